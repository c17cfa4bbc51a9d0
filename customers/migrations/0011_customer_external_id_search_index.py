"""An index for the customer search, which matches the start of an external id in upper and
lower case alike (PostgreSQL only).

Django's `external_id__istartswith` is `UPPER(external_id::text) LIKE UPPER('c-1%')` on
PostgreSQL: the unique index on external_id does not serve it, so at 1M customers each search
read the whole table. This expression index with text_pattern_ops (LIKE on a prefix, whatever
the collation) does. SQLite's LIKE ignores case already and the table's own index serves it:
nothing there.
"""

from django.db import migrations

INDEX = "customer_external_id_upper_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("customers", "Customer")._meta.db_table)
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON {table} (UPPER(external_id::text) text_pattern_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_preset_date_order_can_be_unset")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
