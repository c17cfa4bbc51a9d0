"""Fixtures of the webhook tests, shared by the files under tests/segments."""

from tests.segments.webhooks_support import eager_celery, two_runs  # noqa: F401  (fixtures)
