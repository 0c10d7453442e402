# The Grant model now lives in places (see places/0002_grant); its table stays.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_resident_link'),
        ('places', '0002_grant'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Grant')],
            database_operations=[],
        ),
    ]
