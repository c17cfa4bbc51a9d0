from django.urls import path
from rest_framework.routers import SimpleRouter

from customers.api.views import (
    CustomerViewSet,
    FeatureComputeView,
    FeatureSnapshotViewSet,
    ImportPresetViewSet,
    ImportViewSet,
)

router = SimpleRouter()
router.register("imports", ImportViewSet, basename="import")
router.register("import-presets", ImportPresetViewSet, basename="import-preset")
router.register("feature-snapshots", FeatureSnapshotViewSet, basename="feature-snapshot")
router.register("customers", CustomerViewSet, basename="customer")
urlpatterns = [path("features/compute/", FeatureComputeView.as_view(), name="feature-compute"), *router.urls]
