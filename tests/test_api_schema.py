"""The OpenAPI document (/api/openapi.json) documents what the server reads.

django-ninja names a schema component after its class: two classes of one name (one in
each of two apps) became one component, and every operation using either was documented
with the fields of whichever came last (the seven inflow transitions showed the
observation's note/days instead of their own reason, planned_arrival, temperature and
healthy)."""
from __future__ import annotations

import collections

import pytest
from pydantic import BaseModel

from fangkong.api import api


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _operations():
    """(operation id, method, ninja operation) of every API operation."""
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for op in path_view.operations:
                for method in op.methods:
                    yield api.get_openapi_operation_id(op), method.lower(), op


def _resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.fixture(scope="module")
def document():
    return api.get_openapi_schema()


def test_no_two_schema_classes_share_a_component_name():
    names = collections.defaultdict(set)
    for cls in set(_subclasses(BaseModel)):
        if cls.__module__.startswith("fangkong.") and not cls.__name__.startswith("_"):
            names[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    shared = {name: sorted(where) for name, where in names.items() if len(where) > 1}
    assert not shared, shared


def test_every_json_body_is_documented_with_the_fields_its_handler_reads(document):
    by_id = {}
    for path_item in document["paths"].values():
        for method, operation in path_item.items():
            by_id[(operation["operationId"], method)] = operation
    checked, wrong = 0, []
    for op_id, method, op in _operations():
        for model in op.models:
            if model.__ninja_param_source__ != "body":
                continue
            for name, field in model.model_fields.items():
                body = field.annotation
                if not (isinstance(body, type) and issubclass(body, BaseModel)):
                    continue
                read = set(body.model_json_schema(by_alias=True).get("properties", {}))
                content = by_id[(op_id, method)]["requestBody"]["content"]["application/json"]["schema"]
                documented = set(_resolve(content, document).get("properties", {}))
                checked += 1
                if documented != read:
                    wrong.append((op_id, sorted(documented), sorted(read)))
    assert checked > 50
    assert not wrong, wrong


def test_the_inflow_transitions_document_their_own_fields(document):
    def fields(link):
        body = document["paths"][f"/api/inflow/{{pk}}/{link}"]["post"]["requestBody"]["content"]["application/json"]
        return set(_resolve(body["schema"], document).get("properties", {}))

    assert fields("travel") == {"planned_arrival"}
    assert fields("arrive") == {"temperature", "healthy"}
    for link in ("approve", "reject", "request-info"):
        assert fields(link) == {"reason"}
    for link in ("forward", "resubmit"):
        assert fields(link) == set()
    # The observation's transitions keep theirs.
    body = document["paths"]["/api/observations/{pk}/release"]["post"]["requestBody"]["content"]["application/json"]
    assert set(_resolve(body["schema"], document)["properties"]) == {"note", "days"}
