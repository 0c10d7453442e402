"""Encrypted online backups and their restore (`fangkong backup`, `fangkong restore`).

A backup is one consistent copy of the database taken while the server runs:

* SQLite: the SQLite backup API, in one step (one read transaction over the WAL: writers
  go on, the copy is the database as of one commit), into a private temporary file;
* PostgreSQL: `pg_dump --format=custom` (one repeatable-read snapshot), streamed.

The copy is encrypted with FANGKONG_BACKUP_KEY (AES-256-GCM in 1 MiB chunks, each bound to
the header, its number and whether it is the last, so a truncated or reordered file fails
to restore). The data keys (FANGKONG_DATA_KEY, FANGKONG_INDEX_KEY and any old ones) are
NOT in the backup: the ID and phone numbers inside stay encrypted with them, and the keys
must be kept, separately, to read a restored database.

File layout: MAGIC | header length (4 bytes) | header (JSON) | chunks, each
length (4 bytes) | nonce (12) | ciphertext+tag.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"FANGKONG-BACKUP\n"
CHUNK = 1 << 20


class BackupError(Exception):
    pass


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, int(last))


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, header: dict) -> None:
    aead = AESGCM(key)
    head = json.dumps(header, sort_keys=True).encode()
    dst.write(MAGIC + struct.pack(">I", len(head)) + head)
    index, block = 0, src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if block else b""
        last = not following
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, block, _aad(head, index, last))
        dst.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        if last:
            return
        index, block = index + 1, following


def read_header(src: BinaryIO) -> tuple[dict, bytes]:
    if src.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a Fangkong backup")
    (n,) = struct.unpack(">I", src.read(4))
    head = src.read(n)
    return json.loads(head), head


def decrypt_chunks(src: BinaryIO, key: bytes, head: bytes) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag

    aead, index = AESGCM(key), 0
    while True:
        raw = src.read(4)
        if len(raw) < 4:
            raise BackupError("the backup is truncated")
        (n,) = struct.unpack(">I", raw)
        nonce, sealed = src.read(12), src.read(n)
        for last in (False, True):
            try:
                plain = aead.decrypt(nonce, sealed, _aad(head, index, last))
            except InvalidTag:
                continue
            break
        else:
            raise BackupError("the backup cannot be decrypted with this key (or is damaged)")
        yield plain
        if last:
            if src.read(1):
                raise BackupError("data after the last chunk")
            return
        index += 1


# --- Taking a backup ------------------------------------------------------------------------

def _pg_env(settings_dict: dict) -> dict:
    env = dict(os.environ)
    for var, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD"),
                     ("PGDATABASE", "NAME")):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    return env


def backup(out: Path, *, key: bytes, using: str = "default") -> dict:
    """Write an encrypted backup of the database `using` to `out` (atomically: a partial
    file never has the final name). Returns the header."""
    from django.db import connections

    settings_dict = connections[using].settings_dict
    vendor = connections[using].vendor
    header = {"format": 1, "vendor": vendor, "taken_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "keys": "not included: the data keys are kept separately"}
    out = Path(out)
    tmp_out = out.with_name(out.name + ".partial")
    fd = os.open(tmp_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as dst:
            if vendor == "sqlite":
                with tempfile.TemporaryDirectory(prefix="fangkong-backup-") as tmp:
                    copy = Path(tmp) / "copy.sqlite3"
                    src = sqlite3.connect(settings_dict["NAME"], timeout=30)
                    dst_db = sqlite3.connect(copy)
                    try:
                        src.backup(dst_db)  # every page in one step: one consistent snapshot
                        dst_db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                    finally:
                        dst_db.close()
                        src.close()
                    with open(copy, "rb") as plain:
                        encrypt_stream(plain, dst, key, header)
            elif vendor == "postgresql":
                if shutil.which("pg_dump") is None:
                    raise BackupError("pg_dump is not installed")
                proc = subprocess.Popen(["pg_dump", "--format=custom", "--no-owner", "--no-privileges"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_pg_env(settings_dict))
                encrypt_stream(proc.stdout, dst, key, header)
                _, err = proc.communicate()
                if proc.returncode:
                    raise BackupError(f"pg_dump failed: {err.decode(errors='replace').strip()}")
            else:
                raise BackupError(f"no backup for {vendor}")
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp_out, out)
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        raise
    return header


# --- Restoring -----------------------------------------------------------------------------

def restore(src_path: Path, *, key: bytes, to: str, force: bool = False) -> dict:
    """Restore the backup at `src_path` into `to`: a DATABASE_URL (sqlite:///path, a new
    file; postgres://..., an existing empty database). Returns the header."""
    import dj_database_url

    target = dj_database_url.parse(to)
    with open(src_path, "rb") as src:
        header, head = read_header(src)
        vendor = header.get("vendor")
        engine = target["ENGINE"]
        if vendor == "sqlite":
            if "sqlite3" not in engine:
                raise BackupError("a SQLite backup restores into sqlite:///path")
            path = Path(target["NAME"])
            if path.exists() and not force:
                raise BackupError(f"{path} exists (--force replaces it)")
            tmp = path.with_name(path.name + ".partial")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as dst:
                    for block in decrypt_chunks(src, key, head):
                        dst.write(block)
                    dst.flush()
                    os.fsync(dst.fileno())
                check = sqlite3.connect(tmp)
                try:
                    if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                        raise BackupError("the restored database fails its integrity check")
                    check.execute("PRAGMA journal_mode=WAL")
                finally:
                    check.close()
                for suffix in ("-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        elif vendor == "postgresql":
            if "postgresql" not in engine:
                raise BackupError("a PostgreSQL backup restores into postgres://...")
            if shutil.which("pg_restore") is None:
                raise BackupError("pg_restore is not installed")
            cmd = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                   "--dbname", target["NAME"]] + (["--clean", "--if-exists"] if force else [])
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=_pg_env(target))
            try:
                for block in decrypt_chunks(src, key, head):
                    proc.stdin.write(block)
            except BaseException:
                proc.kill()  # nothing half-restored: --single-transaction rolls back
                proc.wait()
                raise
            finally:
                proc.stdin.close()
            err = proc.stderr.read()
            if proc.wait():
                raise BackupError(f"pg_restore failed: {err.decode(errors='replace').strip()}")
        else:
            raise BackupError(f"unknown backup kind {vendor!r}")
    return header
