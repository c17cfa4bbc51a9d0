from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from custseg_site import integrations, views
from integrations.scopes import ANY_SCOPE


class SchemaView(SpectacularAPIView):
    token_scopes = ANY_SCOPE  # the API's description is no data: any valid token reads it


class SchemaDocsView(SpectacularSwaggerView):
    token_scopes = ANY_SCOPE

api_v1 = [path("", include("segments.api.urls")), path("", include("customers.api.urls")),
          path("", include("campaigns.api.urls")), path("", include("integrations.api.urls"))]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/tokens/", integrations.token_create_view, name="token-create"),
    path("integrations/tokens/<int:pk>/revoke/", integrations.token_revoke_view, name="token-revoke"),
    path("integrations/webhooks/", integrations.webhook_create_view, name="webhook-create"),
    path("integrations/webhooks/<int:pk>/toggle/", integrations.webhook_toggle_view, name="webhook-toggle"),
    path("integrations/webhooks/<int:pk>/rotate-secret/", integrations.webhook_rotate_secret_view,
         name="webhook-rotate-secret"),
    path("integrations/webhooks/<int:pk>/delete/", integrations.webhook_delete_view, name="webhook-delete"),
    path("integrations/webhooks/<int:pk>/ping/", integrations.webhook_ping_view, name="webhook-ping"),
    path("integrations/webhooks/deliveries/<int:pk>/redeliver/", integrations.webhook_delivery_redeliver_view,
         name="webhook-delivery-redeliver"),
    path("", include("segments.urls")),
    path("", include("customers.urls")),
    path("", include("campaigns.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SchemaDocsView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
