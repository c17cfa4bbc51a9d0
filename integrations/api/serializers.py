"""The webhook API's serializers. Field values are checked by integrations.services.webhooks
(one set of messages for the page and the API); these shape requests and answers, and
refuse fields they do not know."""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from integrations import transport
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.services import webhooks
from segments.models import Persona


class WebhookEndpointSerializer(serializers.ModelSerializer):
    # plain text fields: integrations.services.webhooks checks them, with one set of messages for page and API
    name = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                 help_text=f"Who receives it, e.g. “CRM”. At most {webhooks.NAME_CHARS} characters.")
    url = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                help_text="Receives a signed POST (JSON) after each publish that changes a persona's "
                                          f"members: http:// or https:// with a host, at most {webhooks.URL_CHARS} "
                                          "characters, no user name or password in it.")
    persona = serializers.PrimaryKeyRelatedField(
        queryset=Persona.objects.all(), allow_null=True, required=False,
        help_text="Only this persona's changes; null (the default): every persona's.")
    persona_name = serializers.CharField(source="persona.name", read_only=True, allow_null=True)
    active = serializers.BooleanField(required=False, help_text="Switched off, it is sent nothing (default: on).")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                              help_text="Who registered it (username).")
    legacy_secret = serializers.BooleanField(read_only=True, help_text=(
        "True: its secret predates Standard Webhooks secrets (hex, no `whsec_`); a receiver passes its bytes, "
        "`Webhook(secret.encode())`, or rotates it for a `whsec_` one. False: pass the secret as it is, "
        "`Webhook(secret)`."))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "persona", "persona_name", "active", "legacy_secret", "created_by",
                  "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        # A field this serializer does not know is a mistake the client should hear of
        # (DRF would drop it), above all an attempt to choose the secret.
        if isinstance(self.initial_data, Mapping):
            stray = sorted(set(self.initial_data) - set(self.fields))
            if stray:
                raise ValidationError({
                    name: ["The server makes the secret: it is in the answer to the create, and "
                           "POST /api/v1/webhooks/{id}/rotate-secret/ makes a new one."] if name == "secret"
                    else [f"Unknown field. Known: {', '.join(self.fields)}."]
                    for name in stray
                })
        return attrs


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text=(
        "The Standard Webhooks signing secret (`whsec_` + base64): a receiver checks each delivery with "
        "`standardwebhooks.Webhook(secret).verify(body, headers)`. In this answer only: store it now; it is "
        "never shown again (rotate-secret makes a new one)."))

    class Meta(WebhookEndpointSerializer.Meta):
        fields = WebhookEndpointSerializer.Meta.fields + ["secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    number = serializers.IntegerField(read_only=True, help_text="1 for the first attempt; a re-send continues the count.")
    started_at = serializers.DateTimeField(read_only=True, help_text="When the attempt started (its webhook-timestamp).")
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True,
                                           help_text="How long until the answer or the error, in milliseconds; null: "
                                                     "no request was made (the webhook was off, or its address refused).")
    response_code = serializers.IntegerField(read_only=True, allow_null=True,
                                             help_text="The receiver's HTTP status; null: no answer.")
    error = serializers.CharField(read_only=True, help_text="Why the attempt failed; empty when it did not.")
    will_retry = serializers.BooleanField(read_only=True, help_text=(
        "Whether another attempt follows: after a 5xx, 408, 429, a timeout or a connection error, until the "
        "attempts run out; never after a 2xx, a 3xx or another 4xx."))
    retry_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                         help_text="When the next attempt is made (the receiver's Retry-After on 429 "
                                                   "and 503 when longer than the backoff); null when none follows.")

    class Meta:
        model = WebhookAttempt
        fields = ["number", "started_at", "duration_ms", "response_code", "error", "will_retry", "retry_at"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempts = serializers.IntegerField(read_only=True, help_text="Attempts made so far (a re-send adds one).")
    response_code = serializers.IntegerField(read_only=True, allow_null=True,
                                             help_text="The receiver's HTTP status at the last attempt; null: no answer.")
    error = serializers.CharField(read_only=True, help_text="Why the last attempt failed; empty when it did not.")
    next_retry_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                              help_text="When a retrying delivery is tried again.")
    payload = serializers.JSONField(read_only=True, help_text="The JSON body sent (without `delivery`, its id).")
    webhook_id = serializers.SerializerMethodField(help_text="Its `webhook-id` header, the same on every attempt.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "webhook_id", "endpoint", "event", "status", "attempts", "response_code", "error",
                  "next_retry_at", "created_at", "delivered_at", "persona", "run", "payload"]
        read_only_fields = fields

    def get_webhook_id(self, delivery) -> str:
        return transport.message_id(delivery.pk)
