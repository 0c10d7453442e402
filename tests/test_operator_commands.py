"""Operator commands for the tree, accounts and grants."""
import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from fangkong.places.models import Grant
from fangkong.audit.models import AuditEvent
from fangkong.places.models import Organization, Place


def test_build_tree_and_accounts(db, capsys):
    call_command("add_place", "street", "S9", "九号街道")
    call_command("add_place", "community", "S9-C1", "一社区", "--parent", "S9")
    call_command("add_place", "grid", "S9-C1-G1", "一网格", "--parent", "S9-C1")
    call_command("add_org", "employer", "E9", "九号单位", "--place", "S9-C1")
    grid = Place.objects.get(code="S9-C1-G1")
    assert grid.path.startswith(Place.objects.get(code="S9-C1").path)
    assert Organization.objects.get(code="E9").place_path == Place.objects.get(code="S9-C1").path
    capsys.readouterr()
    call_command("grant", "wang", "committee", "--place", "S9-C1", "--create", "--name", "王主任")
    out = capsys.readouterr().out
    password = out.split("password: ")[1].strip()
    user = authenticate(username="wang", password=password)
    assert user is not None and user.grants.get().place.code == "S9-C1"
    call_command("grant", "wang", "unit_liaison", "--org", "E9")
    assert Grant.objects.filter(user=user, active=True).count() == 2
    call_command("grant", "wang", "unit_liaison", "--org", "E9", "--revoke")
    assert list(Grant.objects.filter(user=user, active=True).values_list("role", flat=True)) == ["committee"]
    assert AuditEvent.objects.filter(action__in=["grant.create", "grant.revoke", "account.create", "place.create"]).count() >= 6
    c = Client()
    c.force_login(user)
    assert c.get("/residents/").status_code == 200


@pytest.mark.parametrize("args", [
    ["add_place", "grid", "X1", "x"],                                  # a grid cannot be a root
    ["add_place", "community", "X2", "x", "--parent", "nope"],         # unknown parent
])
def test_place_errors(db, args):
    with pytest.raises(CommandError):
        call_command(*args)


def test_place_kind_order_and_duplicates(db):
    call_command("add_place", "street", "S1", "街道")
    call_command("add_place", "community", "C1", "社区", "--parent", "S1")
    with pytest.raises(CommandError):
        call_command("add_place", "street", "S2", "x", "--parent", "C1")  # street under a community
    with pytest.raises(CommandError):
        call_command("add_place", "community", "C1", "again", "--parent", "S1")  # code taken
    assert Place.objects.count() == 2


@pytest.mark.parametrize("args", [
    ["grant", "nobody", "committee", "--place", "S1"],                  # no account, no --create
    ["grant", "u1", "admin", "--place", "S1", "--create"],              # admin needs --everything
    ["grant", "u1", "committee", "--everything", "--create"],           # others need a scope
    ["grant", "u1", "committee", "--place", "NOPE", "--create"],
    ["grant", "u1", "unit_liaison", "--org", "NOPE", "--create"],
])
def test_grant_errors(db, args):
    call_command("add_place", "street", "S1", "街道")
    with pytest.raises(CommandError):
        call_command(*args)
    assert not Grant.objects.exists()
