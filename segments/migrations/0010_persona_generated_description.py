from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('segments', '0009_webhooks_moved_to_integrations'),
    ]

    operations = [
        migrations.AddField(
            model_name='persona',
            name='generated_description',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='persona',
            name='description_stale',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='historicalpersona',
            name='description_stale',
            field=models.BooleanField(default=False),
        ),
    ]
