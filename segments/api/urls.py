from django.urls import path
from rest_framework.routers import SimpleRouter

from segments.api.views import FeatureListView, RunViewSet, SegmentViewSet

router = SimpleRouter()
router.register("runs", RunViewSet, basename="run")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [
    path("features/", FeatureListView.as_view(), name="feature-list"),
    *router.urls,
]
