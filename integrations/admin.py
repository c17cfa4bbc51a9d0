from django.contrib import admin

from integrations.models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookEndpoint


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


class WebhookAttemptInline(admin.TabularInline):
    # history: written by integrations.transport, one row per attempt, never edited
    model = WebhookAttempt
    fields = readonly_fields = ["number", "started_at", "duration_ms", "response_code", "error", "retry_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "endpoint", "persona", "status", "attempts", "response_code", "next_retry_at"]
    list_filter = ["status"]
    readonly_fields = ["payload"]
    inlines = [WebhookAttemptInline]
