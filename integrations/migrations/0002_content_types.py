# The moved models' content types follow them (custseg_site.apitoken and
# segments.webhookendpoint / webhookdelivery become integrations.*), so their permissions keep
# their rows and ids: groups and users granted one (a custom group with manage_api_tokens, say)
# keep it. A database made after this app existed has no old content types: nothing to do.

from django.db import migrations

MOVED = {"apitoken": "custseg_site", "webhookendpoint": "segments", "webhookdelivery": "segments"}
NEW_APP = "integrations"


def _move(apps, *, forward: bool):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, old_app in MOVED.items():
        source, target = (old_app, NEW_APP) if forward else (NEW_APP, old_app)
        if content_type.objects.filter(app_label=target, model=model).exists():
            continue  # already there (made by a post_migrate in between): keep it, leave the other
        content_type.objects.filter(app_label=source, model=model).update(app_label=target)
    content_type.objects.clear_cache()


def forwards(apps, schema_editor):
    _move(apps, forward=True)


def backwards(apps, schema_editor):
    _move(apps, forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('integrations', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
