"""Reloading the answer that showed a new token's key or a webhook's secret re-sends its
form: the page recognises it and creates or rotates nothing more."""

import re

import pytest
from django.urls import reverse

from integrations.models import ApiToken, WebhookEndpoint
from integrations.services import webhooks

pytestmark = pytest.mark.django_db


def once_of(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


@pytest.fixture
def analyst_client(client, analyst):
    client.force_login(analyst)
    return client


def test_re_sending_the_new_token_form_creates_no_second_token(analyst_client):
    once = once_of(analyst_client.get("/integrations/").content.decode())
    form = {"name": "CRM sync", "scopes": ["membership:read"], "once": once}
    first = analyst_client.post(reverse("token-create"), form)
    assert first.status_code == 200 and ApiToken.objects.count() == 1
    # the browser's reload of that answer sends the same form again
    again = analyst_client.post(reverse("token-create"), form, follow=True)
    assert ApiToken.objects.count() == 1
    assert "That form was already sent: the token was created then" in again.content.decode()
    # a new form (a new once) makes a new token
    analyst_client.post(reverse("token-create"), {**form, "once": once_of(first.content.decode())})
    assert ApiToken.objects.count() == 2


def test_re_sending_the_new_webhook_form_or_a_rotation_changes_nothing_more(analyst_client, analyst):
    once = once_of(analyst_client.get("/integrations/").content.decode())
    form = {"name": "CRM", "url": "https://crm.example.com/hooks", "once": once}
    analyst_client.post(reverse("webhook-create"), form)
    analyst_client.post(reverse("webhook-create"), form)
    assert WebhookEndpoint.objects.count() == 1
    endpoint = WebhookEndpoint.objects.get()
    page = analyst_client.get("/integrations/").content.decode()
    rotate = {"once": once_of(page)}
    analyst_client.post(reverse("webhook-rotate-secret", args=[endpoint.pk]), rotate)
    endpoint.refresh_from_db()
    rotated = endpoint.secret
    again = analyst_client.post(reverse("webhook-rotate-secret", args=[endpoint.pk]), rotate, follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated and "the secret was rotated then" in again.content.decode()
    # the same page's button for another webhook still rotates that one
    other = webhooks.webhook_endpoint_create(name="Ads", url="https://ads.example.com/h", by=analyst)
    analyst_client.post(reverse("webhook-rotate-secret", args=[other.pk]), rotate)
    assert WebhookEndpoint.objects.get(pk=other.pk).secret != other.secret
