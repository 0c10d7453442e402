# The Grant model moves from accounts to places, beside the access module that reads it.
# Its table (accounts_grant) stays as it is: only Django's state moves (no SQL).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import fangkong.places.models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_resident_link'),
        ('places', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Grant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=fangkong.places.models.role_choices, max_length=20, verbose_name='role')),
                        ('active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('organization', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to='places.organization')),
                        ('place', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to='places.place')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='grants', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_grant',
                        'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('organization__isnull', True), ('place__isnull', True), ('role', 'admin')), models.Q(models.Q(('role', 'admin'), _negated=True), ('organization__isnull', True), ('place__isnull', False)), models.Q(models.Q(('role', 'admin'), _negated=True), ('organization__isnull', False), ('place__isnull', True)), _connector='OR'), name='grant_scope_shape')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
