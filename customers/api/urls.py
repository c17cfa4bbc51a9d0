from rest_framework.routers import SimpleRouter

from customers.api.views import ImportPresetViewSet, ImportViewSet

router = SimpleRouter()
router.register("imports", ImportViewSet, basename="import")
router.register("import-presets", ImportPresetViewSet, basename="import-preset")
urlpatterns = router.urls
