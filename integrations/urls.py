"""The Integrations page, under /integrations/. Route names carry no namespace: the page's
templates and links use them as they were before the page moved into this app."""

from django.urls import path

from integrations import views

urlpatterns = [
    path("", views.integrations, name="integrations"),
    path("tokens/", views.token_create_view, name="token-create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke_view, name="token-revoke"),
    path("webhooks/", views.webhook_create_view, name="webhook-create"),
    path("webhooks/<int:pk>/toggle/", views.webhook_toggle_view, name="webhook-toggle"),
    path("webhooks/<int:pk>/rotate-secret/", views.webhook_rotate_secret_view, name="webhook-rotate-secret"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete_view, name="webhook-delete"),
    path("webhooks/<int:pk>/ping/", views.webhook_ping_view, name="webhook-ping"),
    path("webhooks/deliveries/<int:pk>/redeliver/", views.webhook_delivery_redeliver_view,
         name="webhook-delivery-redeliver"),
]
