"""The product's URLs, and POST /bench/floor right after /healthz, /readyz and api/ (see
bench/floor/__init__.py): the product's own device calls resolve as in production, the
floor's passes over two patterns only (after all of them, it would pay for the page
patterns' misses that no measured request pays)."""
from django.db import connection
from django.urls import path
from ninja import NinjaAPI, Schema

from fangkong.lib.db import group_commit
from fangkong.urls import urlpatterns as product

from . import TABLE

floor_api = NinjaAPI(title="bench floor", urls_namespace="bench_floor", docs_url=None, openapi_url=None)


class FloorIn(Schema):
    temperature: str


class FloorOut(Schema):
    id: int


@floor_api.post("/floor", response={201: FloorOut}, auth=None)
def floor(request, payload: FloorIn):
    def write() -> int:
        with connection.cursor() as cur:
            cur.execute(f"INSERT INTO {TABLE} (value) VALUES (%s) RETURNING id", [payload.temperature[:16]])
            return cur.fetchone()[0]

    return 201, {"id": group_commit.write(write)}


_api = [str(p.pattern) for p in product].index("api/")
assert _api <= 4, product[:_api + 1]  # home, healthz, readyz: the product's device calls come first
urlpatterns = [*product[:_api + 1], path("bench/", floor_api.urls), *product[_api + 1:]]
