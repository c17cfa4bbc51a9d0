from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CustsegSiteConfig(AppConfig):
    name = "custseg_site"
    verbose_name = "custseg"

    def ready(self):
        from custseg_site.roles import sync_role_groups

        # After every migrate (the test database too) the three role groups exist with
        # exactly their permissions; the permissions themselves are made post_migrate.
        post_migrate.connect(sync_role_groups, dispatch_uid="custseg_sync_role_groups")
