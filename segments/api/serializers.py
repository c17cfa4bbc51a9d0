from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.features import DEFAULT_FEATURES
from customers.selectors import feature_catalogue
from segments.models import Segment, SegmentationRun
from segments.options import OPTIONS
from segments.selectors import run_coverage, run_feature_treatment, segment_summaries


def _option_field(option) -> serializers.Field:
    """A serializer field for a run option; the service parses and checks the value."""
    help_text = option.help
    if option.algorithms:
        help_text += f" Applies to: {', '.join(option.algorithms)}."
    common = dict(required=False, help_text=help_text, label=option.label)
    if option.kind == "choice":
        return serializers.ChoiceField(choices=[name for name, _ in option.choices], default=option.default, **common)
    if option.kind == "int":
        return serializers.IntegerField(allow_null=True, default=option.default, **common)
    if option.kind == "float":
        return serializers.FloatField(allow_null=True, default=option.default, **common)
    if option.kind == "log":
        return serializers.JSONField(default=option.default, **common)
    # k: a number or "auto"
    return serializers.CharField(default=option.default, **common)


class RunCreateSerializer(serializers.Serializer):
    """Options for a new run (the same as the page's form and the `segment` command);
    checks against the data happen in services.run_validate."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    features = serializers.ListField(
        child=serializers.CharField(), default=list(DEFAULT_FEATURES),
        help_text="Feature names; see GET /api/v1/features/.",
    )

    def get_fields(self):
        fields = super().get_fields()
        for option in OPTIONS:
            fields[option.name] = _option_field(option)
        return fields


class RuleSerializer(serializers.Serializer):
    text = serializers.CharField(
        help_text="The rule in words, features by their display names (`label` in GET /api/v1/features/), "
                  "e.g. \"Orders = 4 and Age <= 30\". Runs computed before display names were used name "
                  "features by their keys.")
    precision = serializers.FloatField(help_text="Of the customers the rule selects, the share in the segment.")
    recall = serializers.FloatField(help_text="Of the segment's customers, the share the rule selects.")
    support = serializers.IntegerField(help_text="Customers the rule selects.")


class SegmentSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    name = serializers.CharField()
    label = serializers.CharField(
        help_text="The automatic name in a marketer's words, e.g. \"Lapsed big spenders\"; \"Outliers (not in any segment)\" "
                  "for DBSCAN/HDBSCAN noise (\"Unassigned\" in runs made before 2026-12). Empty when none was computed.")
    size = serializers.IntegerField()
    share = serializers.FloatField()
    centroid = serializers.DictField(child=serializers.FloatField(allow_null=True))
    mean = serializers.DictField(child=serializers.FloatField(allow_null=True))
    median = serializers.DictField(child=serializers.FloatField(allow_null=True))
    zscore = serializers.DictField(child=serializers.FloatField(allow_null=True))
    categories = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField()),
        help_text="Categorical features: the share of each value within the segment.",
    )
    top_features = serializers.ListField(
        child=serializers.ListField(), help_text="[feature, z-score] pairs, most distinguishing first."
    )
    rules = RuleSerializer(many=True, help_text="Readable rules from a shallow decision tree that mimics the segments.")
    stability = serializers.FloatField(allow_null=True, help_text="Mean bootstrap Jaccard: near 1 stable; below 0.6 unstable.")
    revenue_share = serializers.FloatField(allow_null=True)
    is_noise = serializers.BooleanField(help_text="DBSCAN/HDBSCAN customers in no dense group.")


class RunCoverageSerializer(serializers.Serializer):
    customers = serializers.IntegerField(help_text="Customers when the run started.")
    in_run = serializers.IntegerField(help_text="Customers the run placed: segmented + outliers.")
    segmented = serializers.IntegerField(help_text="Customers in a segment.")
    outliers = serializers.IntegerField(help_text="DBSCAN/HDBSCAN: customers in no dense group (not in any segment).")
    left_out = serializers.IntegerField(help_text="Customers not in the run: missing_values + no_purchases.")
    missing_values = serializers.IntegerField(
        help_text="Left out for a missing value of a chosen feature (missing values: leave the customer out).")
    no_purchases = serializers.IntegerField(
        help_text="Left out for never having bought, on a run over purchase features (recency, frequency, ...).")


class FeatureTreatmentSerializer(serializers.Serializer):
    feature = serializers.CharField()
    label = serializers.CharField()
    skew = serializers.FloatField(allow_null=True, help_text="Sample skewness before any transform.")
    transform = serializers.ChoiceField(
        choices=["log", "none"],
        help_text="log: log(1 + x), or asinh(x / median |x|) for a feature with negative values; none: as it is.")
    reason = serializers.CharField(help_text="Why, in words.")
    negative_values = serializers.IntegerField(help_text="Customers with a value below 0 (e.g. net returns).")
    scaling = serializers.CharField(help_text="standard, robust, minmax or none.")
    scaling_label = serializers.CharField()


class RunSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField()
    url = serializers.HyperlinkedIdentityField(view_name="api:run-detail")
    coverage = serializers.SerializerMethodField(help_text="Who the run segmented, and who it left out and why.")
    feature_treatment = serializers.SerializerMethodField(
        help_text="What was done to each number feature before segmenting, and why; empty before the run "
        "finished, and for runs made before this was recorded.")

    class Meta:
        model = SegmentationRun
        fields = [
            "id", "url", "name", "config", "status", "progress", "stage", "error",
            "metrics", "coverage", "selection", "stability", "preprocessing", "feature_treatment", "notes",
            "model_info", "created_by", "created_at", "started_at", "finished_at", "published", "published_at",
        ]

    @extend_schema_field(RunCoverageSerializer)
    def get_coverage(self, run) -> dict:
        return run_coverage(run=run)

    @extend_schema_field(FeatureTreatmentSerializer(many=True))
    def get_feature_treatment(self, run) -> list[dict]:
        if not hasattr(self, "_feature_labels"):  # once per response, not per run of a list
            self._feature_labels = {name: f.label for name, f in feature_catalogue().items()}
        return run_feature_treatment(run=run, labels=self._feature_labels)


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
        fields = [
            "id", "run", "index", "name", "label", "size", "profile", "rules", "stability",
            "revenue_share", "is_noise", "members_url",
        ]

    def get_members_url(self, segment) -> str:
        request = self.context.get("request")
        path = f"/api/v1/segments/{segment.pk}/members/"
        return request.build_absolute_uri(path) if request else path


class SegmentListItemSerializer(serializers.ModelSerializer):
    """A segment in a list: enough to choose one and pull its members, nothing of its profile."""

    name = serializers.CharField(source="display_name")
    run_published = serializers.BooleanField(source="run.published", help_text="Whether its run is the "
                                                                               "published one.")
    members_url = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "run", "run_published", "index", "name", "size", "is_noise", "members_url"]

    def get_members_url(self, segment) -> str:
        return SegmentSerializer.get_members_url(self, segment)


class FeatureSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The key runs, CSV headers and API fields use, e.g. annual_income.")
    label = serializers.CharField(help_text="The display name pages use, e.g. \"Annual income\".")
    help = serializers.CharField()
    unit = serializers.CharField()
    kind = serializers.CharField(help_text="numeric or categorical")
    attribute_key = serializers.CharField(help_text="The custom attribute's column name; empty for computed features.")


class AssignRequestSerializer(serializers.Serializer):
    external_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_empty=False, max_length=1000,
        help_text="Existing customers to assign (their current features are used). Up to 1,000.",
    )
    rows = serializers.ListField(
        child=serializers.DictField(), required=False, allow_empty=False, max_length=1000,
        help_text="Feature values of customers not imported yet, one object each, e.g. "
        '{"recency": 12, "frequency": 3, "monetary": 340}. A feature left out counts as missing.',
    )

    def validate(self, data):
        if bool(data.get("external_ids")) == bool(data.get("rows")):
            raise serializers.ValidationError("Give either external_ids or rows, not both.")
        return data


class AssignedSegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    name = serializers.CharField()


class AssignResultSerializer(serializers.Serializer):
    external_id = serializers.CharField(required=False)
    row = serializers.IntegerField(required=False, help_text="Position in `rows`.")
    segment = AssignedSegmentSerializer(allow_null=True, help_text="null: unassigned (density algorithms' noise).")
    distance = serializers.FloatField(allow_null=True, help_text="To the segment's centre, in the run's scaled units.")
    nearest_other = AssignedSegmentSerializer(allow_null=True)


class AssignResponseSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    results = AssignResultSerializer(many=True)


class ComparedSegmentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()


class RunComparisonSerializer(serializers.Serializer):
    run_a = serializers.IntegerField()
    run_b = serializers.IntegerField()
    segments_a = ComparedSegmentSerializer(many=True)
    segments_b = ComparedSegmentSerializer(many=True)
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="matrix[i][j]: customers in segment i of run_a and segment j of run_b.",
    )
    customers_in_both = serializers.IntegerField()
    only_in_a = serializers.IntegerField()
    only_in_b = serializers.IntegerField()
    adjusted_rand_index = serializers.FloatField(allow_null=True, help_text="1 = the same segments; about 0 = unrelated.")
