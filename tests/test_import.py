"""Resident import through the web pages (upload → mapping → start) and the CLI."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.test import TestCase
from openpyxl import Workbook

from fangkong.audit.models import AuditEvent
from fangkong.lib import crypto
from fangkong.residents import importing
from fangkong.residents.importing import jobs, prefetch
from fangkong.residents.importing import rows as first_stage
from fangkong.residents.models import Household, ImportJob, ImportRowError, ImportSeen, Person
from tests.cast import make_id, make_phone

HEAD = ["姓名", "身份证号", "联系电话", "住址", "网格", "人员类别"]


def csv_bytes(rows, header=HEAD, encoding="utf-8-sig"):
    buf = io.StringIO()
    w = csv.writer(buf)
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEAD):
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client, cast, data: bytes, name="居民.csv", place=None):
    f = io.BytesIO(data)
    f.name = name
    return client.post("/residents/import/", {"file": f, "place": (place or cast.comm_a).pk})


def run(client, cast, data, name="居民.csv", mapping=None):
    """Upload and start with the detected (or given) mapping; returns the finished job."""
    resp = upload(client, cast, data, name)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    job = ImportJob.objects.latest("pk")
    post = {f"col_{k}": v for k, v in (mapping or job.mapping).items()}
    with TestCase.captureOnCommitCallbacks(execute=True):  # the task is queued on commit
        resp = client.post(f"/residents/import/{job.pk}/start/", post)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    job.refresh_from_db()
    return job


def row(seq, name="张三", address="甲一小区2号楼201室", grid="A1", tags=""):
    return [name, make_id(seq), make_phone(seq), address, grid, tags]


def errors_of(job):
    return [(e.row, e.column, e.reason) for e in ImportRowError.objects.filter(job=job).order_by("row")]


def snapshot():
    return sorted(Person.objects.values_list("id", "version", "updated_at", "name", "phone_bidx", "household_id", "tags"))


@pytest.fixture
def committee(cast, login):
    return login(cast.committee_a)


@pytest.fixture(autouse=True, params=["reader-thread", "reader-process"])
def reader(request, monkeypatch):
    """Every import test runs twice: with the first stage (read, validate, encrypt) in a
    thread, as for small files, and in a child process, as for large ones."""
    monkeypatch.setattr(prefetch, "PROCESS_MIN_ROWS", 10**9 if request.param == "reader-thread" else 0)
    return request.param


def test_csv_import_creates_persons_households_and_is_idempotent(cast, committee):
    data = csv_bytes([row(100, "王芳", tags="独居老人"), row(101, "李强"), row(102, "赵敏", address="甲二网格9号", grid="A2")])
    job = run(committee, cast, data)
    assert job.status == "done"
    assert (job.created_count, job.updated_count, job.unchanged_count, job.error_count) == (3, 0, 0, 0), errors_of(job)
    p = Person.objects.get(id_bidx=crypto.blind_index("id", make_id(100)))
    assert p.name == "王芳" and p.tag_list == ["elderly_alone"] and p.place == cast.grid_a1
    assert p.household.address == "甲一小区2号楼201室"
    assert Person.objects.get(name="李强").household == p.household  # same address → same household
    assert Person.objects.get(name="赵敏").place == cast.grid_a2
    assert p.id_masked == make_id(100)[:6] + "********" + make_id(100)[-4:]
    assert ImportSeen.objects.filter(job=job).count() == 0  # cleaned up
    before, households = snapshot(), Household.objects.count()
    again = run(committee, cast, data)
    assert (again.created_count, again.updated_count, again.unchanged_count, again.error_count) == (0, 0, 3, 0)
    assert snapshot() == before and Household.objects.count() == households
    actions = set(AuditEvent.objects.filter(user=cast.committee_a).values_list("action", flat=True))
    assert {"residents.import.upload", "residents.import.confirm", "residents.import.start", "residents.import.finish"} <= actions


def test_changed_row_updates_person(cast, committee):
    run(committee, cast, csv_bytes([row(110, "孙丽")]))
    job = run(committee, cast, csv_bytes([row(110, "孙丽", address="甲一小区3号楼301室")]))
    assert (job.created_count, job.updated_count) == (0, 1)
    p = Person.objects.get(name="孙丽")
    assert p.household.address == "甲一小区3号楼301室" and p.version == 2


def test_gbk_csv_as_chinese_excel_saves_it(cast, committee):
    job = run(committee, cast, csv_bytes([row(120, "欧阳娜娜"), row(121, "诸葛亮")], encoding="gbk"))
    assert job.encoding == "gb18030" and job.created_count == 2
    assert Person.objects.filter(name__in=["欧阳娜娜", "诸葛亮"]).count() == 2


def test_xlsx_with_chinese_headers(cast, committee):
    job = run(committee, cast, xlsx_bytes([row(130, "周杰"), row(131, "吴磊")]), name="居民登记表.xlsx")
    assert job.file_format == "xlsx" and job.created_count == 2 and job.error_count == 0


def test_xlsx_wrong_types_are_row_errors(cast, committee):
    bad_id_as_number = [ "钱多", float(make_id(140)[:17] + "1"), make_phone(140), "甲一小区1号", "A1", ""]
    data = xlsx_bytes([bad_id_as_number, row(141, "孙悟空")], header=HEAD)
    job = run(committee, cast, data, name="types.xlsx")
    errs = errors_of(job)
    assert job.created_count == 1 and job.error_count == 1
    assert errs[0][0] == 2 and errs[0][1] == "身份证号"
    assert "number" in errs[0][2].lower() or "数值" in errs[0][2]


def test_bad_rows_are_reported_with_row_column_reason_and_written_nowhere(cast, committee):
    bad_checksum = make_id(150)[:17] + ("0" if make_id(150)[17] != "0" else "1")
    long_cell = "长" * 10_000
    rows = [
        row(151, "好人"),                                   # row 2 ok
        ["坏校验", bad_checksum, make_phone(150), "x", "A1", ""],   # row 3 checksum
        ["=HYPERLINK(\"http://evil\",\"点我\")", make_id(152), "", "x", "A1", ""],  # row 4 formula
        [long_cell, make_id(153), "", "x", "A1", ""],       # row 5 10,000 characters
        ["错电话", make_id(154), "12345", "x", "A1", ""],    # row 6 bad phone
        ["错网格", make_id(155), "", "x", "Z9", ""],         # row 7 unknown grid
        ["错标签", make_id(156), "", "x", "A1", "外星人"],    # row 8 unknown tag
        row(151, "好人重复"),                                # row 9 duplicate in file
        ["", make_id(157), "", "x", "A1", ""],              # row 10 no name
        ["错日期", "370102198013321234", "", "x", "A1", ""],  # row 11 impossible date
        ["错地区", "999999198001011234", "", "x", "A1", ""],  # row 12 unknown region/checksum
        ["", "", "", "", "", ""],                           # row 13 blank: skipped
    ]
    job = run(committee, cast, csv_bytes(rows))
    errs = errors_of(job)
    by_row = {}
    for r, c, m in errs:
        by_row.setdefault(r, []).append((c, m))
    assert job.created_count == 1 and job.error_count == 10
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert by_row[3][0][0] == "身份证号"
    assert by_row[4][0][0] == "姓名"
    assert any(c == "姓名" for c, m in by_row[5])
    assert by_row[6][0][0] == "联系电话"
    assert by_row[7][0][0] == "网格"
    assert by_row[8][0][0] == "人员类别"
    assert by_row[9][0][0] == "身份证号" and "2" in by_row[9][0][1]
    assert Person.objects.filter(name__in=["坏校验", "错电话", "错网格", "错标签", "好人重复"]).count() == 0
    assert not Person.objects.filter(name__startswith="=").exists()
    # The error report is a downloadable CSV with row, column and reason.
    resp = committee.get(f"/residents/import/{job.pk}/errors.csv")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert len(lines) == 1 + len(errs)
    assert lines[1][0] == "3" and lines[1][1] == "身份证号"
    assert bad_checksum not in text  # the report never repeats a raw number


def test_duplicate_against_database(cast, committee):
    # Same ID as person_a1 (in A, visible) with the same data: unchanged; person_b1 is in B.
    a1 = cast.person_a1
    rows = [
        [a1.name, cast.ids["person_a1"], cast.phones["person_a1"], a1.household.address, "A1Y", "独居老人"],
        ["冒名", cast.ids["person_b1"], "", "x", "A1", ""],
    ]
    job = run(committee, cast, csv_bytes(rows))
    assert (job.created_count, job.unchanged_count, job.error_count) == (0, 1, 1), errors_of(job)
    assert "outside" in errors_of(job)[0][2] or "辖区" in errors_of(job)[0][2]
    cast.person_b1.refresh_from_db()
    assert cast.person_b1.name == "靶子丙" and cast.person_b1.version == 1


def test_missing_and_unknown_headers(cast, committee):
    resp = upload(committee, cast, csv_bytes([["张三", "x"]], header=["姓名", "奇怪的列"]))
    job = ImportJob.objects.latest("pk")
    assert resp.status_code == 302 and job.mapping == {"0": "name"}
    page = committee.get(f"/residents/import/{job.pk}/")
    assert page.status_code == 200
    resp = committee.post(f"/residents/import/{job.pk}/start/", {"col_0": "name"})
    assert resp.status_code == 400
    job.refresh_from_db()
    assert job.status == "uploaded" and Person.objects.count() == 3
    # Mapping one field twice is refused too.
    resp = committee.post(f"/residents/import/{job.pk}/start/", {"col_0": "name", "col_1": "name"})
    assert resp.status_code == 400


def test_unknown_extra_columns_are_ignored(cast, committee):
    data = csv_bytes([["钱七", make_id(160), "备用", "甲"]], header=["姓名", "身份证号", "奇怪的列", "另一列"])
    job = run(committee, cast, data)
    assert job.created_count == 1 and job.error_count == 0


def test_empty_and_unreadable_files(cast, committee):
    for data, name in [(b"", "empty.csv"), (b"\n\n", "blank.csv"), (b"PK\x03\x04garbage", "broken.xlsx"),
                       (b"\xd0\xcf\x11\xe0old", "old.xls"), (b"\xff\xfe\x00\x00\x81", "binary.csv")]:
        n = ImportJob.objects.count()
        resp = upload(committee, cast, data, name)
        assert resp.status_code == 400, name
        assert ImportJob.objects.count() == n, name
    assert Person.objects.count() == 3


def test_start_twice_is_409_and_imports_once(cast, committee):
    job = run(committee, cast, csv_bytes([row(170, "马六")]))
    resp = committee.post(f"/residents/import/{job.pk}/start/", {"col_0": "name", "col_1": "id_number"})
    assert resp.status_code == 409
    assert Person.objects.filter(name="马六").count() == 1


def _run_until_crash(job, cast, monkeypatch, batch: int) -> None:
    """Run the job in batches of 3 rows; the writer dies at batch number `batch`."""
    real = jobs.process_batch
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == batch:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "process_batch", crashing)
    with pytest.raises(RuntimeError, match="power cut"):
        importing.run_import(job, acting_user=cast.committee_a, batch_size=3)
    monkeypatch.setattr(jobs, "process_batch", real)


def test_crash_mid_import_resumes_without_loss_or_duplicates(cast, committee, monkeypatch):
    rows = [row(200 + i, f"批量{'甲乙丙丁戊己庚辛壬癸'[i]}") for i in range(10)]
    resp = upload(committee, cast, csv_bytes(rows))
    job = ImportJob.objects.latest("pk")
    job.status = "queued"
    job.save()
    _run_until_crash(job, cast, monkeypatch, batch=3)
    job.refresh_from_db()
    assert job.processed_rows == 6 and Person.objects.filter(name__startswith="批量").count() == 6
    job = importing.run_import(job, acting_user=cast.committee_a, batch_size=3)
    assert job.status == "done" and job.processed_rows == 10 and job.created_count == 10
    assert Person.objects.filter(name__startswith="批量").count() == 10


def test_a_failure_while_reading_stops_the_import_cleanly_and_it_resumes(cast, committee, monkeypatch):
    """The first stage (thread or child process) fails at row 8: the batches before it are
    stored, the error reaches the caller, no reading process is left behind, the resumed
    job finishes the file once. The connection's SQLite settings are restored either way."""
    import multiprocessing

    from django.db import connection

    rows = [row(400 + i, f"读取{'甲乙丙丁戊己庚辛壬癸'[i]}") for i in range(10)]
    upload(committee, cast, csv_bytes(rows))
    job = ImportJob.objects.latest("pk")
    real = first_stage.read_row

    def failing(rownum, cells, lookups):
        if rownum == 8:
            raise RuntimeError("disk error while reading")
        return real(rownum, cells, lookups)

    def pragmas():
        with connection.cursor() as cursor:
            if connection.vendor != "sqlite":
                return None
            cursor.execute("PRAGMA cache_size")
            cache = cursor.fetchone()[0]
            cursor.execute("PRAGMA wal_autocheckpoint")
            return cache, cursor.fetchone()[0]

    before = pragmas()
    monkeypatch.setattr(first_stage, "read_row", failing)
    with pytest.raises(RuntimeError, match="disk error while reading"):
        importing.run_import(job, acting_user=cast.committee_a, batch_size=3)
    assert multiprocessing.active_children() == []
    assert pragmas() == before
    job.refresh_from_db()
    assert job.processed_rows == 6 and Person.objects.filter(name__startswith="读取").count() == 6
    monkeypatch.setattr(first_stage, "read_row", real)
    job = importing.run_import(job, acting_user=cast.committee_a, batch_size=3)
    assert job.status == "done" and job.processed_rows == 10 and job.created_count == 10 and job.error_count == 0
    assert Person.objects.filter(name__startswith="读取").count() == 10
    assert pragmas() == before and multiprocessing.active_children() == []


def test_in_file_duplicate_across_batches(cast, committee):
    rows = [row(300, "前"), row(301, "中"), row(300, "后")]
    resp = upload(committee, cast, csv_bytes(rows))
    job = ImportJob.objects.latest("pk")
    job = importing.run_import(job, acting_user=cast.committee_a, batch_size=1)
    assert job.created_count == 2 and job.error_count == 1
    assert errors_of(job)[0][0] == 4 and "2" in errors_of(job)[0][2]


def test_import_forbidden_for_grid_worker_and_other_jurisdiction(cast, login):
    client = login(cast.worker_a1)
    assert upload(client, cast, csv_bytes([row(400)])).status_code == 403
    client = login(cast.committee_b)
    resp = upload(client, cast, csv_bytes([row(401)]), place=cast.comm_a)  # place outside B
    assert resp.status_code == 400 and ImportJob.objects.count() == 0


def test_progress_fragment(cast, committee):
    job = run(committee, cast, csv_bytes([row(500, "进度")]))
    resp = committee.get(f"/residents/import/{job.pk}/progress/")
    assert resp.status_code == 200 and b"<progress" in resp.content and b'value="100"' in resp.content


def test_cli_import_with_progress_and_error_file(cast, tmp_path, capsys):
    f = tmp_path / "居民.csv"
    f.write_bytes(csv_bytes([row(600, "命令行"), ["坏", "123", "", "", "", ""]]))
    call_command("import_residents", str(f), "--place", "A", "--user", "committee_a")
    out = capsys.readouterr().out
    assert "1 new" in out and "1 rows with errors" in out
    assert Person.objects.filter(name="命令行").exists()
    assert (tmp_path / "居民.errors.csv").exists()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("import_residents", str(f), "--place", "B", "--user", "committee_a")  # outside scope
    with pytest.raises(CommandError):
        call_command("import_residents", str(f), "--place", "A", "--user", "worker_a1")  # wrong role


def test_a_reading_process_that_stops_answering_ends_the_import_with_an_error(monkeypatch):
    """A forked reader that hangs (e.g. on a lock inherited from another thread) must not
    hang the import: with no batch for READER_STALL_SECONDS the writer stops with an error
    (the job is resumable) and the child is ended."""
    import time

    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    monkeypatch.setattr(prefetch, "READER_STALL_SECONDS", 0.3)

    def stuck():
        time.sleep(30)
        yield from ()

    reader = prefetch.ProcessPrefetch(stuck)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="stopped answering"):
        next(iter(reader))
    assert time.monotonic() - started < 10
    reader.close()  # ends the child


# --- Starting and resuming are named actions ---------------------------------------------

def _job_state(job):
    job.refresh_from_db()
    return (job.status, job.mapping, job.processed_rows, job.created_count, job.message,
            AuditEvent.objects.filter(action__startswith="residents.import").count())


def _crashed_job(cast, committee, monkeypatch, seq, stale=True):
    """A job whose run stopped after 3 of 5 rows (its runner died): status running."""
    import datetime as dt

    from django.utils import timezone

    upload(committee, cast, csv_bytes([row(seq + i, f"续传{'甲乙丙丁戊'[i]}") for i in range(5)]))
    job = ImportJob.objects.latest("pk")
    job.status = "queued"
    job.save()
    _run_until_crash(job, cast, monkeypatch, batch=2)
    if stale:
        ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=11))
    job.refresh_from_db()
    assert (job.status, job.processed_rows) == ("running", 3)
    return job


def test_resume_a_crashed_import_through_the_page(cast, committee, monkeypatch):
    job = _crashed_job(cast, committee, monkeypatch, 800)
    assert b"/resume/" in committee.get(f"/residents/import/{job.pk}/").content  # the page offers it
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = committee.post(f"/residents/import/{job.pk}/resume/")
    assert resp.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == ("done", 5, 5)
    assert Person.objects.filter(name__startswith="续传").count() == 5
    event = AuditEvent.objects.get(action="residents.import.resume")
    assert event.user == cast.committee_a and event.detail["from"] == "running" and event.detail["row"] == 3


def test_resume_refused_while_running_when_done_and_before_start(cast, committee, monkeypatch):
    running = _crashed_job(cast, committee, monkeypatch, 810, stale=False)  # moved a moment ago
    before = _job_state(running)
    assert b"/resume/" not in committee.get(f"/residents/import/{running.pk}/").content
    resp = committee.post(f"/residents/import/{running.pk}/resume/")
    assert resp.status_code == 409 and _job_state(running) == before

    done = run(committee, cast, csv_bytes([row(820, "已完成")]))
    before = _job_state(done)
    resp = committee.post(f"/residents/import/{done.pk}/resume/")
    assert resp.status_code == 409 and _job_state(done) == before

    upload(committee, cast, csv_bytes([row(821, "未开始")]))
    uploaded = ImportJob.objects.latest("pk")
    before = _job_state(uploaded)
    resp = committee.post(f"/residents/import/{uploaded.pk}/resume/")
    assert resp.status_code == 409 and _job_state(uploaded) == before
    assert not Person.objects.filter(name="未开始").exists()


def test_start_twice_changes_nothing(cast, committee):
    job = run(committee, cast, csv_bytes([row(830, "两次")]))
    before = _job_state(job)
    resp = committee.post(f"/residents/import/{job.pk}/start/", {"col_0": "name", "col_1": "id_number", "col_2": "phone"})
    assert resp.status_code == 409 and _job_state(job) == before


def test_start_and_resume_wrong_role_other_jurisdiction_wrong_method(cast, committee, login, monkeypatch):
    job = _crashed_job(cast, committee, monkeypatch, 840)
    upload(committee, cast, csv_bytes([row(845, "未开始")]))
    fresh = ImportJob.objects.latest("pk")
    states = (_job_state(job), _job_state(fresh))
    worker = login(cast.worker_a1)
    assert worker.post(f"/residents/import/{job.pk}/resume/").status_code == 403
    assert worker.post(f"/residents/import/{fresh.pk}/start/", {"col_0": "name", "col_1": "id_number"}).status_code == 403
    other = login(cast.committee_b)
    assert other.post(f"/residents/import/{job.pk}/resume/").status_code == 404
    assert other.post(f"/residents/import/{fresh.pk}/start/", {"col_0": "name", "col_1": "id_number"}).status_code == 404
    mine = login(cast.committee_a)
    assert mine.get(f"/residents/import/{job.pk}/resume/").status_code == 405
    assert mine.get(f"/residents/import/{fresh.pk}/start/").status_code == 405
    assert (_job_state(job), _job_state(fresh)) == states


def test_cli_resume_uses_the_action(cast, committee, monkeypatch, capsys):
    from django.core.management.base import CommandError

    job = _crashed_job(cast, committee, monkeypatch, 850)
    call_command("import_residents", "--resume", str(job.pk), "--user", "committee_a")
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == ("done", 5, 5)
    assert AuditEvent.objects.filter(action="residents.import.resume", user=cast.committee_a).count() == 1
    with pytest.raises(CommandError, match=f"import job {job.pk}"):
        call_command("import_residents", "--resume", str(job.pk), "--user", "committee_a")  # finished: 409's message


def test_title_rows_above_the_headers_are_found(cast, committee):
    """Issue 14, point 13: lists exported from government templates carry title rows (often
    merged cells) above the headers; the header row is found and the rows are numbered as
    in the spreadsheet."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["甲社区居民信息登记表"])
    ws.merge_cells("A1:F1")
    ws.append(["填报单位：甲社区居委会", None, None, "填报日期：2022-03-01"])
    ws.append(HEAD)
    ws.append(row(150, "马丽"))
    bad = row(151, "马冬梅")
    bad[1] = bad[1][:-1] + ("0" if bad[1][-1] != "0" else "1")  # a wrong check digit
    ws.append(bad)
    buf = io.BytesIO()
    wb.save(buf)
    job = run(committee, cast, buf.getvalue(), name="登记表.xlsx")
    assert job.header_row == 3 and job.headers[:2] == ["姓名", "身份证号"]
    assert (job.created_count, job.error_count) == (1, 1), errors_of(job)
    assert Person.objects.filter(name="马丽").exists()
    assert [e[0] for e in errors_of(job)] == [5]  # the spreadsheet's own row number
    titled = "居民信息登记表,,,,,\n填报单位：甲社区,,,,,\n" + csv_bytes([row(152, "马超")]).decode("utf-8-sig")
    csv_job = run(committee, cast, titled.encode("utf-8-sig"))
    assert csv_job.header_row == 3 and csv_job.created_count == 1
