"""What publishing a run will do, for API clients: the same plan the Publish confirmation
page shows (segments.personas.previews.publish_preview)."""

from rest_framework import serializers

from segments.personas.previews import PublishPreview


class RelinkedPersonaSerializer(serializers.Serializer):
    persona = serializers.IntegerField()
    persona_name = serializers.CharField()
    from_segment = serializers.IntegerField()
    to_segment = serializers.IntegerField()
    to_segment_name = serializers.CharField()
    jaccard = serializers.FloatField(help_text="Customers in both segments over customers in either.")
    score = serializers.FloatField(help_text="Match score: 0.7 Jaccard + 0.3 centre similarity.")
    back_to_draft = serializers.BooleanField(help_text="Approved now, and its customers change: back to draft.")


class ReviewPersonaSerializer(serializers.Serializer):
    persona = serializers.IntegerField()
    persona_name = serializers.CharField()
    from_segment = serializers.IntegerField()
    closest_segment = serializers.IntegerField(allow_null=True)
    score = serializers.FloatField(allow_null=True, help_text="The closest segment's match score.")
    held_by = serializers.CharField(allow_null=True, help_text="The persona that takes the closest segment, "
                                                               "when that is why this one goes to review.")
    back_to_draft = serializers.BooleanField()


class PreviewWebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    persona = serializers.IntegerField(allow_null=True, help_text="Null: the endpoint follows every persona.")


class PreviewCampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()


class PublishPreviewSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    previous_run = serializers.IntegerField(allow_null=True, help_text="The run published now.")
    relinked = RelinkedPersonaSerializer(many=True, help_text="Personas that will follow a segment of this run.")
    review = ReviewPersonaSerializer(many=True, help_text="Personas that will keep their segment and need review.")
    webhooks = PreviewWebhookSerializer(many=True, help_text="Active endpoints that will be told of a persona "
                                                             "whose customers change.")
    campaigns = PreviewCampaignSerializer(many=True, help_text="Campaigns (draft, scheduled or active) aimed at a "
                                                               "persona that moves or goes to review.")


def preview_data(preview: PublishPreview) -> dict:
    consequences = preview.consequences
    return {
        "run": preview.run.pk,
        "previous_run": preview.previous.pk if preview.previous else None,
        "relinked": [{
            "persona": d.persona.pk, "persona_name": d.persona.name, "from_segment": d.link.segment_id,
            "to_segment": d.target.pk, "to_segment_name": d.target.display_name, "jaccard": d.best.jaccard,
            "score": d.best.score, "back_to_draft": d.back_to_draft,
        } for d in preview.relinked],
        "review": [{
            "persona": d.persona.pk, "persona_name": d.persona.name, "from_segment": d.link.segment_id,
            "closest_segment": d.best_segment.pk if d.best_segment else None,
            "score": d.best.score if d.best else None, "held_by": d.held_by, "back_to_draft": d.back_to_draft,
        } for d in preview.review],
        "webhooks": [{"id": e.pk, "name": e.name, "persona": e.persona_id} for e in consequences.webhooks],
        "campaigns": [{"id": c.pk, "name": c.name, "status": c.status}
                      for c in [*consequences.campaigns, *consequences.drafts]],
    }
