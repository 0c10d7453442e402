"""Typed inputs of the JSON API that the database can hold.

A number in a request goes into SQL (an OFFSET, an id in an IN list): beyond 64 bits
SQLite and PostgreSQL refuse it with an error that became a 500. These types refuse it
at the schema instead (422 naming the field) and document the range in the OpenAPI
document."""
from __future__ import annotations

from typing import Annotated

from ninja import Query
from pydantic import Field

MAX_DB_INT = 2**63 - 1  # the largest value of a 64-bit integer column (ids, offsets)

# A list's `offset` query parameter: rows to skip.
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT, description="Rows to skip (0 or more)")]

# A database id in a request body (a list of ids to act on).
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
