from rest_framework import serializers

from customers.features import DEFAULT_FEATURES
from segments import ml
from segments.models import Segment, SegmentationRun
from segments.selectors import segment_summaries


class RunCreateSerializer(serializers.Serializer):
    """Options for a new run; checks against the data happen in services.run_validate."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    algorithm = serializers.CharField(default="kmeans", help_text=f"One of {', '.join(ml.ALGORITHMS)}.")
    features = serializers.ListField(
        child=serializers.CharField(), default=list(DEFAULT_FEATURES),
        help_text="Feature names; see GET /api/v1/features/.",
    )
    k = serializers.IntegerField(help_text=f"Number of segments, {ml.MIN_K}-{ml.MAX_K}.")
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**32 - 1, help_text="Random seed: same seed, same segments.")


class SegmentSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    name = serializers.CharField()
    label = serializers.CharField()
    size = serializers.IntegerField()
    share = serializers.FloatField()
    centroid = serializers.DictField(child=serializers.FloatField())
    zscore = serializers.DictField(child=serializers.FloatField())


class RunSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField()
    url = serializers.HyperlinkedIdentityField(view_name="api:run-detail")

    class Meta:
        model = SegmentationRun
        fields = [
            "id", "url", "name", "config", "status", "progress", "stage", "error",
            "metrics", "created_by", "created_at", "started_at", "finished_at",
            "published", "published_at",
        ]


class RunDetailSerializer(RunSerializer):
    segments = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = RunSerializer.Meta.fields + ["segments"]

    def get_segments(self, run) -> list[dict]:
        if run.status != SegmentationRun.Status.SUCCEEDED:
            return []
        return SegmentSummarySerializer(segment_summaries(run=run), many=True).data


class SegmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    members_url = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "run", "index", "name", "label", "size", "profile", "members_url"]

    def get_members_url(self, segment) -> str:
        request = self.context.get("request")
        path = f"/api/v1/segments/{segment.pk}/members/"
        return request.build_absolute_uri(path) if request else path


class MemberSerializer(serializers.Serializer):
    external_id = serializers.CharField()


class FeatureSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    help = serializers.CharField()
    unit = serializers.CharField()
    kind = serializers.CharField(help_text="numeric or categorical")
    attribute_key = serializers.CharField(help_text="The custom attribute's column name; empty for computed features.")
