"""The OpenAPI schema and its docs are public: a client generator reads them without a token."""

import pytest

pytestmark = pytest.mark.django_db


def test_schema_and_docs_are_public_and_not_throttled(client, settings):
    # given a rate a generator fetching the schema a few times would pass
    settings.API_THROTTLE_RATE = "2/minute"
    for _ in range(4):
        assert client.get("/api/schema/").status_code == 200
        assert client.get("/api/docs/").status_code == 200
    # a bad token is not even looked at
    assert client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer wrong").status_code == 200
