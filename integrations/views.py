"""The Integrations page: API tokens with scopes, webhooks and their deliveries.

A new token's key and a webhook's secret (after create or rotate) are in the answer to
that POST only, never in a redirect's message nor in any later page."""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from redis.exceptions import RedisError

from custseg_site import roles
from integrations import selectors
from integrations.forms import ApiTokenForm, WebhookEndpointForm
from integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint
from integrations.scopes import SCOPES
from integrations.services import tokens, webhooks

# Deliveries listed on the page: the recent ones tell whether an integration is reached.
RECENT_DELIVERIES = 50
# How long a sent form's `once` value is remembered: a day covers any reload of its answer.
ONCE_SECONDS = 24 * 3600
ALREADY_SENT = ("That form was already sent: {what} then, and shown once. If it was not copied, {fix}.")


def first_sending(request, *, scope: str = "") -> bool:
    """False when this POST's `once` value (integrations.forms.SentOnceForm, or the page's
    rotate buttons) was seen before: the browser is re-sending the form whose answer showed a
    key or secret. True without a value, or when the cache cannot tell."""
    once = request.POST.get("once", "")
    if not once:
        return True
    try:
        # "strict": the default cache would answer "seen" (not added) when Redis is unreachable
        return caches["strict"].add(f"custseg:form-once:{scope}:{once}", 1, ONCE_SECONDS)
    except RedisError:
        return True


def _page(request, *, token_form=None, webhook_form=None, new_key=None, new_secret=None, status=200):
    response = render(request, "integrations/integrations.html", {
        "tokens": selectors.token_list(), "token_form": token_form or ApiTokenForm(),
        "webhook_form": webhook_form or WebhookEndpointForm(), "new_key": new_key, "new_secret": new_secret,
        "endpoints": selectors.endpoint_list(), "deliveries": selectors.delivery_list()[:RECENT_DELIVERIES],
        "scopes": SCOPES, "once": secrets.token_urlsafe(16),
    }, status=status)
    if new_key or new_secret:
        response["Cache-Control"] = "no-store"  # a key or secret: kept by no browser cache or proxy
    return response


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
def integrations(request):
    return _page(request)


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def token_create_view(request):
    form = ApiTokenForm(request.POST)
    if not first_sending(request, scope="token"):
        messages.info(request, ALREADY_SENT.format(what="the token was created", fix="revoke it and create another"))
        return redirect("integrations")
    if form.is_valid():
        try:
            token, key = tokens.token_create(user=request.user, name=form.cleaned_data["name"],
                                             scopes=form.cleaned_data["scopes"], created_by=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # the key is on this response only: never stored, never shown again
            return _page(request, new_key={"token": token, "key": key})
    return _page(request, token_form=form, status=400)


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def token_revoke_view(request, pk):
    token = get_object_or_404(ApiToken, pk=pk)
    tokens.token_revoke(token=token, by=request.user)
    messages.success(request, f"The token “{token.name}” was revoked: requests with it now get 401.")
    return redirect("integrations")


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def webhook_create_view(request):
    form = WebhookEndpointForm(request.POST)
    if not first_sending(request, scope="webhook"):
        messages.info(request, ALREADY_SENT.format(what="the webhook was added and its secret",
                                                   fix="rotate its secret"))
        return redirect("integrations")
    if form.is_valid():
        try:
            endpoint = webhooks.webhook_endpoint_create(by=request.user, **form.service_fields())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # the secret is on this response only, like a new token's key
            return _page(request, new_secret={"endpoint": endpoint, "secret": endpoint.secret, "rotated": False})
    return _page(request, webhook_form=form, status=400)


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def webhook_toggle_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint = webhooks.webhook_endpoint_update(endpoint=endpoint, active=not endpoint.active, by=request.user)
    messages.success(request, f"Webhook “{endpoint.name}” {'switched on' if endpoint.active else 'switched off'}.")
    return redirect("integrations")


def _refused(request, exc: ValidationError) -> None:
    for errors in exc.message_dict.values():
        for error in errors:
            messages.error(request, error)


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def webhook_rotate_secret_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if not first_sending(request, scope=f"rotate-{endpoint.pk}"):
        messages.info(request, ALREADY_SENT.format(what="the secret was rotated", fix="rotate it again"))
        return redirect("integrations")
    endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, by=request.user)
    return _page(request, new_secret={"endpoint": endpoint, "secret": endpoint.secret, "rotated": True})


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def webhook_delete_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    deliveries = webhooks.webhook_endpoint_delete(endpoint=endpoint, by=request.user)
    messages.success(request, f"Webhook “{endpoint.name}” deleted, with its {deliveries} "
                              f"deliver{'y' if deliveries == 1 else 'ies'}: it is sent nothing more.")
    return redirect("integrations")


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def webhook_ping_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    try:
        webhooks.webhook_endpoint_ping(endpoint=endpoint, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"Test ping queued for “{endpoint.name}”: follow it under Recent deliveries.")
    return redirect("integrations")


@login_required
@permission_required(roles.MANAGE_INTEGRATIONS, raise_exception=True)
@require_POST
def webhook_delivery_redeliver_view(request, pk):
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
    try:
        webhooks.webhook_delivery_redeliver(delivery=delivery, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"Delivery {delivery.pk} to “{delivery.endpoint.name}” queued again: "
                                  "follow it under Recent deliveries.")
    return redirect("integrations")
