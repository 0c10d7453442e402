"""A community office's first day (issue 14): from a person's page, issue a pass, hand over
the personal link, start an observation, and see the person's passes, measures and history
without ever typing the ID number again (point 10); every page of a resident's personal
link leads back to the resident's own page (point 9)."""
from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from fangkong.accounts.actions import issue_resident_link, resident_for_token
from fangkong.audit.models import AuditEvent
from fangkong.observation.models import Observation
from fangkong.passes.models import Pass

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def page(client, name, *args) -> str:
    resp = client.get(reverse(name, args=args))
    assert resp.status_code == 200, resp.status_code
    return resp.content.decode()


# --- Point 10: the person's page ------------------------------------------------------

def test_person_page_offers_the_actions_the_viewer_may_take(cast):
    person = cast.person_a1
    worker = page(as_user(cast.worker_a1), "person_detail", person.pk)
    assert f'href="{reverse("pass_issue_person", args=[person.pk])}"' in worker
    assert f'action="{reverse("person_link", args=[person.pk])}"' in worker
    assert "action-start-observation" not in worker  # a grid worker starts no observation
    committee = page(as_user(cast.committee_a), "person_detail", person.pk)
    for key in ("issue-pass", "issue-link", "start-observation"):
        assert f'id="action-{key}"' in committee
    assert f'href="{reverse("observation_start_person", args=[person.pk])}"' in committee
    # The commander sees the person but issues nothing from the page.
    commander = page(as_user(cast.commander), "person_detail", person.pk)
    assert 'id="person-actions"' not in commander
    assert cast.ids["person_a1"] not in committee + worker + commander


def test_issue_a_pass_from_the_person_page_without_typing_the_id(cast):
    person = cast.person_a1
    client = as_user(cast.worker_a1)
    form = page(client, "pass_issue_person", person.pk)
    assert person.name in form and 'name="id_number"' not in form and cast.ids["person_a1"] not in form
    resp = client.post(reverse("pass_issue_person", args=[person.pk]), {"days": "7"})
    pass_ = Pass.objects.get(person=person, state="active")
    assert resp.status_code == 302 and resp["Location"] == reverse("pass_detail", args=[pass_.pk])
    assert pass_.issued_by == cast.worker_a1
    # The person's page lists the pass, linked to it.
    detail = page(client, "person_detail", person.pk)
    assert 'id="person-passes"' in detail and reverse("pass_detail", args=[pass_.pk]) in detail and pass_.serial in detail
    # Bad input: the field is named, nothing is issued.
    other = cast.person_a2
    assert as_user(cast.committee_a).post(reverse("pass_issue_person", args=[other.pk]), {"days": "0"}).status_code == 400
    assert not Pass.objects.filter(person=other).exists()


def test_issue_a_pass_for_a_person_wrong_role_and_other_jurisdiction(cast):
    url = reverse("pass_issue_person", args=[cast.person_a1.pk])
    assert as_user(cast.medic_a).post(url, {"days": "7"}).status_code == 403  # medics issue no passes
    assert as_user(cast.worker_b1).post(url, {"days": "7"}).status_code == 404  # another grid's person
    assert as_user(cast.worker_b1).get(url).status_code == 404
    assert not Pass.objects.filter(person=cast.person_a1).exists()


def test_start_an_observation_from_the_person_page(cast):
    person = cast.person_a1
    client = as_user(cast.committee_a)
    form = page(client, "observation_start_person", person.pk)
    assert person.name in form and 'name="id_number"' not in form
    resp = client.post(reverse("observation_start_person", args=[person.pk]), {"kind": "home_observation", "days": "14", "reason": "密接"})
    obs = Observation.objects.get(person=person)
    assert resp.status_code == 302 and resp["Location"] == reverse("observation_detail", args=[obs.pk])
    detail = page(client, "person_detail", person.pk)
    assert 'id="person-measures"' in detail and reverse("observation_detail", args=[obs.pk]) in detail
    # Wrong role (a grid worker), other jurisdiction (community B's committee).
    url = reverse("observation_start_person", args=[cast.person_a2.pk])
    assert as_user(cast.worker_a1).post(url, {"kind": "home_observation", "days": "14"}).status_code == 403
    assert as_user(cast.committee_b).post(url, {"kind": "home_observation", "days": "14"}).status_code == 404
    assert not Observation.objects.filter(person=cast.person_a2).exists()


def test_personal_link_from_the_person_page_is_shown_once_and_works(cast):
    person = cast.person_a1
    client = as_user(cast.worker_a1)
    resp = client.post(reverse("person_link", args=[person.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    token = re.search(r"/r/([A-Za-z0-9_-]+)/", html).group(1)
    assert resident_for_token(token).pk == person.pk
    assert cast.ids["person_a1"] not in html
    assert AuditEvent.objects.filter(action="accounts.resident_link.issue", user=cast.worker_a1,
                                     object_id=str(person.pk)).count() == 1
    assert Client().get(reverse("resident_home", kwargs={"token": token})).status_code == 200
    # The person's history shows that a link was issued, and by whom.
    detail = page(client, "person_detail", person.pk)
    assert 'id="person-history"' in detail and cast.worker_a1.username in detail.split('id="person-history"')[1]
    # GET is refused; wrong role (medic: no residents.edit) 403; other jurisdiction 404.
    url = reverse("person_link", args=[person.pk])
    assert client.get(url).status_code == 405
    assert as_user(cast.medic_a).post(url).status_code == 403
    assert as_user(cast.worker_b1).post(url).status_code == 404
    assert AuditEvent.objects.filter(action="accounts.resident_link.issue").count() == 1


def test_person_page_lists_only_what_the_viewer_may_see(cast):
    from fangkong.passes.actions import issue_resident_pass

    pass_, _token = issue_resident_pass(acting_user=None, person=cast.person_a1)
    # A gate guard's role sees no person at all; the unit liaison sees the person but no passes.
    assert as_user(cast.guard_a).get(reverse("person_detail", args=[cast.person_a1.pk])).status_code == 403
    liaison = page(as_user(cast.liaison_x), "person_detail", cast.person_a1.pk)
    assert pass_.serial not in liaison and 'id="person-passes"' not in liaison


# --- Point 9: a way back on every resident page --------------------------------------

@pytest.mark.parametrize("name", ["resident_pass", "inflow_resident_return", "resident_credit", "resident_declare"])
def test_every_resident_page_leads_back_to_the_residents_page(cast, name):
    from tests.matrix.declarations import point

    point(cast)  # a declaration point over the person's place, so the declare page opens
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    resp = Client().get(reverse(name, kwargs={"token": token}))
    assert resp.status_code == 200
    home = reverse("resident_home", kwargs={"token": token})
    assert re.search(r'<a id="resident-back" href="%s">' % re.escape(home), resp.content.decode())


def test_the_residents_own_page_has_no_back_link(cast):
    token = issue_resident_link(acting_user=None, person=cast.person_a1)
    html = Client().get(reverse("resident_home", kwargs={"token": token})).content.decode()
    assert 'id="resident-back"' not in html
