from rest_framework.routers import SimpleRouter

from integrations.api.views import WebhookEndpointViewSet

router = SimpleRouter()
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = router.urls
