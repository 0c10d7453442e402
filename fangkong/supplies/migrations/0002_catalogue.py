from django.db import migrations


def forwards(apps, schema_editor):
    from fangkong.supplies.catalogue import install

    install(apps.get_model("supplies", "Item"), apps.get_model("supplies", "Package"))


class Migration(migrations.Migration):
    dependencies = [("supplies", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
