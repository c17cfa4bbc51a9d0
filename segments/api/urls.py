from django.urls import path
from rest_framework.routers import SimpleRouter

from segments.api.personas import PersonaViewSet
from segments.api.views import FeatureListView, RunViewSet, SegmentViewSet

router = SimpleRouter()
router.register("runs", RunViewSet, basename="run")
router.register("segments", SegmentViewSet, basename="segment")
router.register("personas", PersonaViewSet, basename="persona")

urlpatterns = [
    path("features/", FeatureListView.as_view(), name="feature-list"),
    *router.urls,
]
