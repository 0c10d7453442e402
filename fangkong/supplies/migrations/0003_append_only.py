"""The ledger is append-only in the database itself, as the audit trail is (audit 0002):
UPDATE is always refused; DELETE (and TRUNCATE on PostgreSQL) only inside the maintenance
transaction of fangkong.audit.maintenance (Django's flush between transactional tests),
which sets the same switch: the one-row table audit_maintenance (SQLite) or the setting
fangkong.audit_maintenance (PostgreSQL).

NOTE: on SQLite a later migration that rebuilds supplies_entry drops these triggers with
the old table; it must run create_triggers again."""
from django.db import migrations

SQLITE = [
    "CREATE TABLE IF NOT EXISTS audit_maintenance (one INTEGER PRIMARY KEY CHECK (one = 1))",
    "DROP TRIGGER IF EXISTS supplies_entry_no_update",
    "DROP TRIGGER IF EXISTS supplies_entry_no_delete",
    "CREATE TRIGGER supplies_entry_no_update BEFORE UPDATE ON supplies_entry "
    "BEGIN SELECT RAISE(ABORT, 'the supplies ledger is append-only'); END",
    "CREATE TRIGGER supplies_entry_no_delete BEFORE DELETE ON supplies_entry "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance) "
    "BEGIN SELECT RAISE(ABORT, 'the supplies ledger is append-only'); END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS supplies_entry_no_update", "DROP TRIGGER IF EXISTS supplies_entry_no_delete"]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION supplies_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND coalesce(current_setting('fangkong.audit_maintenance', true), '') = 'on' THEN
        IF TG_LEVEL = 'ROW' THEN RETURN OLD; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the supplies ledger is append-only' USING ERRCODE = 'insufficient_privilege';
END $$""",
    "DROP TRIGGER IF EXISTS supplies_entry_append_only ON supplies_entry",
    "DROP TRIGGER IF EXISTS supplies_entry_no_truncate ON supplies_entry",
    "CREATE TRIGGER supplies_entry_append_only BEFORE UPDATE OR DELETE ON supplies_entry "
    "FOR EACH ROW EXECUTE FUNCTION supplies_entry_append_only()",
    "CREATE TRIGGER supplies_entry_no_truncate BEFORE TRUNCATE ON supplies_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION supplies_entry_append_only()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS supplies_entry_append_only ON supplies_entry",
    "DROP TRIGGER IF EXISTS supplies_entry_no_truncate ON supplies_entry",
    "DROP FUNCTION IF EXISTS supplies_entry_append_only()",
]


def _run(schema_editor, statements):
    with schema_editor.connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, SQLITE if vendor == "sqlite" else POSTGRES if vendor == "postgresql" else [])


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, SQLITE_DROP if vendor == "sqlite" else POSTGRES_DROP if vendor == "postgresql" else [])


class Migration(migrations.Migration):
    dependencies = [("supplies", "0002_catalogue"), ("audit", "0002_append_only")]
    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
