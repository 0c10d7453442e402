"""The audit trail is append-only in the database itself.

SQLite: triggers abort every UPDATE, and every DELETE unless the one-row table
`audit_maintenance` holds its row (inserted and removed inside the maintenance command's
own transaction: fangkong.audit.maintenance). PostgreSQL: a trigger function aborts UPDATE,
DELETE and TRUNCATE unless the transaction set `fangkong.audit_maintenance` to `on` (SET
LOCAL); the deployment also grants the application's role only SELECT and INSERT on the
table (README, "Audit trail").

The actor column loses its foreign-key constraint (deleting a user must neither cascade nor
set it to NULL: that would be an UPDATE).

NOTE: on SQLite a later migration that rebuilds audit_auditevent (AlterField and the like)
drops these triggers with the old table; it must run create_triggers again.
"""
from django.conf import settings
from django.db import migrations, models

SQLITE = [
    "CREATE TABLE IF NOT EXISTS audit_maintenance (one INTEGER PRIMARY KEY CHECK (one = 1))",
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance) "
    "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TABLE IF EXISTS audit_maintenance",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND coalesce(current_setting('fangkong.audit_maintenance', true), '') = 'on' THEN
        IF TG_LEVEL = 'ROW' THEN RETURN OLD; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit is append-only' USING ERRCODE = 'insufficient_privilege';
END $$""",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_append_only()",
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

    dependencies = [
        ("audit", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="user",
            field=models.ForeignKey(blank=True, db_constraint=False, null=True,
                                    on_delete=models.deletion.DO_NOTHING, to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
