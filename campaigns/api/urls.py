from rest_framework.routers import SimpleRouter

from campaigns.api.views import CampaignViewSet, OutcomeImportViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("outcome-imports", OutcomeImportViewSet, basename="outcome-import")

urlpatterns = router.urls
