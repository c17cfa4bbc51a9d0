from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from custseg_site import views


class PublicMixin:
    """The API's description holds no data: client generators and people read it without a
    token (a bad one is not even looked at), and no rate limit counts it."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


class SchemaView(PublicMixin, SpectacularAPIView):
    pass


class SchemaDocsView(PublicMixin, SpectacularSwaggerView):
    pass


api_v1 = [path("", include("segments.api.urls")), path("", include("customers.api.urls")),
          path("", include("campaigns.api.urls")), path("", include("integrations.api.urls"))]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("integrations/", include("integrations.urls")),
    path("", include("segments.urls")),
    path("", include("customers.urls")),
    path("", include("campaigns.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SchemaDocsView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
