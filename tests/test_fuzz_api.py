"""A schema-driven fuzz run of the whole JSON API (schemathesis over /api/openapi.json),
in-process through the WSGI app, signed in as several roles of the fixed cast and
anonymously: no request, valid or not, may be answered with a 5xx.

Per operation: EXAMPLES generated cases (schema-valid and schema-violating ones), each
sent as every subject, as generated or with one of the malformations that real
clients send and schemas do not describe (integers beyond 64 bits in the query, path and
body; a NUL character in every text; a JSON body sent as a form or multipart; multipart
without a boundary). For the admin also schemathesis' coverage phase (boundary values,
missing and extra parameters, unexpected methods). Derandomized: every run sends the same requests (no flaky CI);
FANGKONG_FUZZ_EXAMPLES makes a longer run, FANGKONG_FUZZ_SEED explores other cases. The
cases run, their answers and the 5xx per subject are printed (stderr, `pytest -s`) and
written to test-artifacts/fuzz-api.txt."""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, Phase, given, seed, settings, strategies as st
from schemathesis.generation import GenerationMode

from fangkong.wsgi import application

# Generated cases per operation, each sent as every subject; the admin also gets
# schemathesis' coverage phase (~7,100 cases). Generating is most of this test's time
# (~85 % in a profile, 2026-12-07); until then every subject had the same cases generated
# anew (derandomized: the same seed for each), 187 s of the SQLite run and, with 3
# examples instead of 6, 142 s of the PostgreSQL run. Generated once and sent as each
# subject, the same requests took 79 s on SQLite (6 examples). PostgreSQL's requests cost
# more than their generation there: 6 examples took 148 s (a quiet machine), so its run, the
# two runs being side by side and about as long, keeps 3. FANGKONG_FUZZ_EXAMPLES sets both;
# FANGKONG_FUZZ_SEED explores other cases.
EXAMPLES_BY_DATABASE = {"sqlite": 6, "postgresql": 3}
EXAMPLES = int(os.environ.get("FANGKONG_FUZZ_EXAMPLES") or EXAMPLES_BY_DATABASE.get(connection.vendor, 6))
ARTIFACT = Path(__file__).resolve().parent.parent / "test-artifacts" / "fuzz-api.txt"
SEED = os.environ.get("FANGKONG_FUZZ_SEED")
# Signed-in roles of the fixed cast (tests/cast.py), and anonymous (None).
SUBJECTS = ("admin", "committee_a", "worker_a1", "liaison_x", "guard_a", None)
COVERAGE_FOR = ("admin",)
EXTREMES = (2**63, 2**64, -(2**63) - 1, 10**30)
MALFORMATIONS = ("as generated", "huge integers", "NUL in text", "form body", "multipart body",
                 "multipart without boundary")


def _huge(value, draw):
    """`value` with every integer in it replaced by one beyond 64 bits."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return draw(st.sampled_from(EXTREMES))
    if isinstance(value, dict):
        return {k: _huge(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [_huge(v, draw) for v in value]
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return str(draw(st.sampled_from(EXTREMES)))
    return value


def _nul(value):
    """`value` with a NUL character in every text (PostgreSQL refuses such text)."""
    if isinstance(value, str):
        return value + "\x00"
    if isinstance(value, dict):
        return {k: _nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nul(v) for v in value]
    return value


def _fields(body) -> dict:
    if isinstance(body, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    return {"body": json.dumps(body, default=str)}


def _malformed(case, how: str, draw) -> dict:
    """Make `case` the request `how` says (changing it in place where the malformation is
    in its values); the extra arguments of case.call: the content type's header and the
    raw body."""
    if how == "huge integers":
        for name in ("query", "path_parameters"):
            if getattr(case, name):
                setattr(case, name, _huge(getattr(case, name), draw))
        if isinstance(case.body, (dict, list, int)):
            case.body = _huge(case.body, draw)
        return {}
    if how == "NUL in text":
        if case.query:
            case.query = _nul(case.query)
        if isinstance(case.body, (dict, list, str)):
            case.body = _nul(case.body)
        return {}
    if how == "form body":
        from urllib.parse import urlencode

        return {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "data": urlencode(_fields(case.body))}
    if how == "multipart body":
        parts = "".join(f'--fzB\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                        for k, v in _fields(case.body).items()) + "--fzB--\r\n"
        return {"headers": {"Content-Type": "multipart/form-data; boundary=fzB"}, "data": parts.encode()}
    if how == "multipart without boundary":
        return {"headers": {"Content-Type": "multipart/form-data"}, "data": b"x=1"}
    return {}


def _send(case, extra: dict, cookies: dict, headers: dict):
    if not extra:
        return case.call(cookies=cookies, headers=headers)
    return case.call(cookies=cookies, headers={**headers, **extra["headers"]}, data=extra["data"])


def _strategy(op):
    parts = [op.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    try:
        parts.append(op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    except Exception:  # noqa: BLE001  an operation without inputs has no invalid request
        pass
    return st.one_of(*parts)


class Tally:
    def __init__(self):
        self.cases, self.statuses, self.errors = 0, Counter(), []

    def add(self, case, how, response):
        self.cases += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.errors.append((response.status_code, case.method, case.formatted_path, how, repr(case.query)[:200],
                                repr(case.body)[:300]))


def fuzz_operation(op, subjects: list[tuple[Tally, dict, dict]], *, examples: int) -> None:
    """`examples` generated cases of `op`, each sent as every subject (tally, cookies,
    headers) in turn. Generating is most of the cost (schemathesis' strategies: ~85 % of
    the test's time in a profile, 2026-12-07), and with derandomize the cases of an
    operation were the same for every subject when each subject had them generated anew:
    generated once, the requests sent are the same ones."""
    has_body = op.method.upper() in ("POST", "PUT", "PATCH")

    @settings(max_examples=examples, deadline=None, database=None, derandomize=SEED is None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=_strategy(op), how=st.sampled_from(MALFORMATIONS if has_body else MALFORMATIONS[:3]), data=st.data())
    def run(case, how, data):
        extra = _malformed(case, how, data.draw)
        # case.call merges the cookies it is given into the case's own: each subject's
        # request starts from the generated ones (else the anonymous subject would send the
        # session cookie of the subject before it).
        generated = {name: dict(getattr(case, name)) if getattr(case, name) is not None else None
                     for name in ("cookies", "headers")}
        for tally, cookies, headers in subjects:
            for name, value in generated.items():
                setattr(case, name, dict(value) if value is not None else None)
            tally.add(case, how, _send(case, extra, cookies, headers))

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()


def coverage_operation(schema, op, tally: Tally, *, cookies: dict, headers: dict) -> None:
    for case in schema.iter_coverage_cases(op, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                           generation_config=schema.config.generation_for(operation=op)):
        tally.add(case, "coverage", case.call(cookies=cookies, headers=headers))


@pytest.fixture
def _keep_connection():
    """The WSGI handler closes the database connection after each request (the test
    client disconnects that): the test's transaction must outlive the requests."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_connection")
def test_no_request_to_the_api_is_answered_with_a_server_error(cast):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]  # one it cannot read fails here
    assert len(operations) > 100
    csrf = _get_new_csrf_string()
    report, failures = [], []
    subjects = {}
    for subject in SUBJECTS:
        cookies = {django_settings.CSRF_COOKIE_NAME: csrf}
        if subject is not None:
            client = Client()
            client.force_login(getattr(cast, subject))
            cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        subjects[subject] = (Tally(), cookies, {"X-CSRFToken": csrf})
    started = time.monotonic()
    for op in operations:
        fuzz_operation(op, list(subjects.values()), examples=EXAMPLES)
        for subject in COVERAGE_FOR:
            tally, cookies, headers = subjects[subject]
            coverage_operation(schema, op, tally, cookies=cookies, headers=headers)
    for subject, (tally, _cookies, _headers) in subjects.items():
        report.append(f"fuzz {subject or 'anonymous'}: {tally.cases} cases over {len(operations)} operations, "
                      f"{len(tally.errors)} 5xx ({', '.join(f'{k}: {v}' for k, v in sorted(tally.statuses.items()))})")
        failures += [(subject, *e) for e in tally.errors]
    report.append(f"in all {time.monotonic() - started:.0f} s")
    print("\n" + "\n".join(report), file=sys.stderr)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(f"database: {connection.vendor}, examples per operation: {EXAMPLES}, seed: {SEED or 'derandomized'}\n"
                        + "\n".join(report) + "\n", encoding="utf-8")
    assert not failures, f"{len(failures)} 5xx:\n" + "\n".join(map(repr, failures[:40]))
