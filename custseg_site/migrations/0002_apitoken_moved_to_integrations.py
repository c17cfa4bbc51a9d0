# ApiToken is integrations' now (integrations 0001 took it over with its table): only
# Django's state forgets it here; the table stays.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('custseg_site', '0001_api_tokens'),
        ('integrations', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='ApiToken')],
        ),
    ]
