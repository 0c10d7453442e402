"""`__under`: a subtree query that selects exactly what `__startswith` does, and that SQLite
answers from the index (its LIKE, behind `__startswith`, scans the whole index)."""
from __future__ import annotations

import pytest
from django.db import connection

from fangkong.places.models import Place
from fangkong.residents.models import Person


@pytest.mark.django_db
def test_under_selects_the_subtree_like_startswith(cast):
    places = list(Place.objects.all())
    assert len(places) > 5
    for p in places:
        under = set(Place.objects.filter(path__under=p.path).values_list("pk", flat=True))
        starts = set(Place.objects.filter(path__startswith=p.path).values_list("pk", flat=True))
        assert under == starts and p.pk in under
        persons = set(Person.objects.filter(place_path__under=p.path).values_list("pk", flat=True))
        assert persons == {x.pk for x in Person.objects.all() if x.place_path.startswith(p.path)}
    # A path that is a string prefix of a sibling's but not its ancestor is not confused.
    assert not Place.objects.filter(path__under="zzzzzz/").exists()


@pytest.mark.django_db
def test_sqlite_answers_under_from_the_index(cast):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL keeps LIKE with its pattern index")
    qs = Person.objects.filter(place_path__under=cast.grid_a1.path).values("pk")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "SEARCH" in plan and "place_path" in plan, plan
