"""The floor of a write over HTTP (W4, W5): the production server with one endpoint more.

`bench/run` starts the W4/W5 server with DJANGO_SETTINGS_MODULE=bench.floor.settings: the
product's settings, and the product's URLs plus POST /bench/floor, a django-ninja
operation that validates a one-field JSON body, stores one row and commits it durably
(through the group commit on SQLite, as the product's writes do; one transaction on
PostgreSQL) and answers 201 with JSON. No access check, no audit event, no other query.

It answers "how fast can any write through this stack be on this machine", so the W4/W5
lines can show the product's write against it (floor=, floor_ratio=) beside DESIGN §5's
ratio against GET /healthz. The floor signs nobody in: a product write's distance from it
includes reading who is calling (W4: the session, the user and its grants; W5: the
personal link) as well as the write's own checks and its audit event. It is measured
before and after the workload (the mean is reported), as the /healthz baseline is.
It is not a route of the product: fangkong.urls does not have it, the access matrix
never sees it.
"""
TABLE = "bench_floor"


def create_table_sql(vendor: str) -> str:
    if vendor == "sqlite":
        return f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY AUTOINCREMENT, value varchar(16) NOT NULL)"
    return f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, value varchar(16) NOT NULL)"
