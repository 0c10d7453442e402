"""The shared cache's table (settings.CACHES: the database cache unless Redis is
configured), created with the schema so that `migrate` (scripts/setup, `fangkong run`, the
test database) is all a fresh machine needs. createcachetable skips a table that exists and
caches that are not in the database."""
from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
