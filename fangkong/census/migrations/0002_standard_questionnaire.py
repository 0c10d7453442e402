from django.db import migrations


def forwards(apps, schema_editor):
    from fangkong.census.standard import install

    install(apps.get_model("census", "Questionnaire"), apps.get_model("census", "Question"))


def backwards(apps, schema_editor):
    Questionnaire = apps.get_model("census", "Questionnaire")
    Questionnaire.objects.filter(key="standard", campaigns__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("census", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
