"""Fixtures of the webhook tests, shared by the files under tests/integrations."""

from tests.integrations.webhooks_support import eager_celery, two_runs  # noqa: F401  (fixtures)
