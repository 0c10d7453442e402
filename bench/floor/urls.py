"""The product's URLs, and POST /bench/floor right after /healthz (see bench/floor/__init__.py)."""
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


assert str(product[1].pattern) == "healthz", product[1].pattern
urlpatterns = [*product[:2], path("bench/", floor_api.urls), *product[2:]]
