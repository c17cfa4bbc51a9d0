from django.contrib import admin

from integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "scopes", "created_at", "last_used_at", "revoked_at"]
    # keys are made by integrations.services.tokens.token_create (page or CLI), which shows them once
    readonly_fields = ["key_hash", "prefix", "created_at", "last_used_at"]
    list_filter = ["revoked_at"]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "persona", "active", "created_at"]
    # the signing secret is shown once, on the Integrations page or in the API's create answer
    exclude = ["secret"]

    def has_add_permission(self, request):
        return False  # the Integrations page and the API generate the secret (integrations.services.webhooks)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "endpoint", "persona", "status", "attempts", "response_code", "next_retry_at"]
    list_filter = ["status"]
    readonly_fields = ["payload"]
