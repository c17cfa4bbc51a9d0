# WebhookEndpoint and WebhookDelivery are integrations' now (integrations 0001 took them over
# with their tables): only Django's state forgets them here; the tables stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('segments', '0008_job_task_name'),
        ('integrations', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='WebhookDelivery'),
                migrations.DeleteModel(name='WebhookEndpoint'),
            ],
        ),
    ]
