from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self):
        from integrations.signals import connect_cache_invalidation

        connect_cache_invalidation()
