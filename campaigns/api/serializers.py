from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns import selectors, stats
from campaigns.models import Campaign, CampaignOutcome, OutcomeImport
from campaigns.services import outcome_imports
from segments.models import Persona, Segment


class CampaignSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:campaign-detail")
    target_personas = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Persona.objects.all(), required=False,
        help_text="Personas to reach: their segment of the published run.")
    target_segments = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Segment.objects.all(), required=False, help_text="Segments of the published run to reach.")
    exclude_personas = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Persona.objects.all(), required=False, help_text="Personas whose customers are left out.")
    exclude_segments = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Segment.objects.all(), required=False,
        help_text="Segments (of any run) whose customers are left out.")
    holdout_share = serializers.DecimalField(
        max_digits=5, decimal_places=4, required=False,
        help_text="Share of each persona's customers kept as a control group and not contacted: 0 to 0.5 "
                  "(default 0.1). Fixed at launch.")
    seed = serializers.IntegerField(min_value=0, required=False,
                                    help_text="Chooses who is in the holdout: the same seed gives the same control set.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = serializers.ChoiceField(
        choices=Campaign.Status.choices, required=False,
        help_text="Set by launching (scheduled or active); afterwards scheduled, active or completed.")

    class Meta:
        model = Campaign
        fields = ["id", "url", "name", "objective", "channel", "status", "start_date", "end_date", "budget", "offer",
                  "target_personas", "target_segments", "exclude_personas", "exclude_segments", "holdout_share",
                  "seed", "created_by", "run", "launched_at", "treated_count", "control_count", "created_at",
                  "updated_at"]
        read_only_fields = ["run", "launched_at", "treated_count", "control_count", "created_at", "updated_at"]
        extra_kwargs = {"treated_count": {"help_text": "Audience members who are contacted (frozen at launch)."},
                        "control_count": {"help_text": "Audience members held out as the control group."},
                        "run": {"help_text": "The published run the audience was taken from at launch."}}


class OutcomeRowSerializer(serializers.Serializer):
    """One outcome for the JSON form of the outcomes import (documentation; rows are checked
    one by one by the import, which reports each bad row instead of refusing the request)."""

    customer = serializers.CharField(help_text="The customer's external id.")
    event = serializers.ChoiceField(choices=CampaignOutcome.Event.choices)
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True,
                                       help_text="Conversions only.")
    timestamp = serializers.DateTimeField(help_text="ISO 8601; a date alone means midnight.")


class OutcomeUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (gzip-compressed too) or XLSX with the columns customer (or customer_id), "
                                            "event, revenue, timestamp.")


class RejectionSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The file's line (its sheet row for XLSX), or the position (from 1) in a JSON list.")
    reason = serializers.CharField()
    cells = serializers.ListField(child=serializers.CharField(allow_blank=True), source="raw",
                                  help_text="The row's cells as read.")


class OutcomeImportSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:outcome-import-detail",
                                               help_text="Poll it while the import is pending or running.")
    campaign = serializers.PrimaryKeyRelatedField(read_only=True)
    reasons = serializers.DictField(child=serializers.IntegerField(), help_text="Rejected rows per reason.")
    rejections = serializers.SerializerMethodField(
        help_text=f"The first {outcome_imports.REJECTIONS_SHOWN} rejected rows; rejected_rows_url has them all.")
    rejected_rows_url = serializers.SerializerMethodField(help_text="Every rejected row as CSV.")
    cancel_url = serializers.SerializerMethodField(help_text="POST to cancel a pending or running import.")
    created_by = serializers.StringRelatedField()

    class Meta:
        model = OutcomeImport
        fields = ["id", "url", "campaign", "status", "progress", "stage", "error", "source", "file_name",
                  "size_bytes", "rows", "added", "duplicates", "rejected", "reasons", "rejections",
                  "rejected_rows_url", "cancel_url", "created_by", "created_at", "started_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = {
            "rows": {"help_text": "Rows read = added + duplicates + rejected (counted so far while running)."},
            "duplicates": {"help_text": "Rows already recorded, or repeated in the file (same customer, event and "
                                        "time): not added again."},
            "stage": {"help_text": "What the import is doing, e.g. “Checking rows 50,000 of ~1,000,000”."},
            "error": {"help_text": "Why a failed import failed."},
        }

    @extend_schema_field(RejectionSerializer(many=True))
    def get_rejections(self, job):
        rows = selectors.outcome_rejections(outcome_import=job, limit=outcome_imports.REJECTIONS_SHOWN)
        return RejectionSerializer(rows, many=True).data

    def _absolute(self, name: str, job) -> str:
        path = reverse(name, args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_rejected_rows_url(self, job) -> str:
        return self._absolute("api:outcome-import-rejected", job)

    def get_cancel_url(self, job) -> str:
        return self._absolute("api:outcome-import-cancel", job)


class RateSerializer(serializers.Serializer):
    rate = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95 % Wilson interval.")
    high = serializers.FloatField(allow_null=True)


class GroupResultSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    delivered = serializers.IntegerField()
    responders = serializers.IntegerField(help_text="Members who clicked, responded or converted.")
    converters = serializers.IntegerField()
    conversions = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    response_rate = RateSerializer(source="response")
    conversion_rate = RateSerializer(source="conversion")
    average_order_value = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class LiftSerializer(serializers.Serializer):
    treated_rate = serializers.FloatField()
    control_rate = serializers.FloatField()
    difference = serializers.FloatField(help_text="Treated minus control rate.")
    difference_low = serializers.FloatField(
        help_text="95 % interval of the difference, by the score method (Mee): the differences the two-proportion "
                  "score test does not reject, so it excludes 0 exactly when p_value is below 0.05.")
    difference_high = serializers.FloatField()
    relative = serializers.FloatField(allow_null=True, help_text="Difference over the control rate.")
    relative_low = serializers.FloatField(
        allow_null=True, help_text="Low end of the relative lift's 95% interval: the rate ratio's score interval "
                                   "(the same test as `significant`) minus 1. Null when the control rate is 0.")
    relative_high = serializers.FloatField(allow_null=True, help_text="High end of that interval.")
    z = serializers.FloatField(allow_null=True, help_text="Two-proportion z statistic (pooled).")
    p_value = serializers.FloatField(allow_null=True, help_text="Two-sided.")
    significant = serializers.BooleanField(help_text="The difference's interval excludes 0.")
    method = serializers.CharField(help_text="How the difference's interval is computed.")


class ResultSerializer(serializers.Serializer):
    label = serializers.CharField()
    persona = serializers.IntegerField(source="persona.pk", allow_null=True, default=None)
    segment = serializers.IntegerField(source="segment.pk", allow_null=True, default=None)
    reach = serializers.IntegerField(help_text="Treated (contacted) members.")
    treated = GroupResultSerializer()
    control = GroupResultSerializer()
    conversion_lift = serializers.SerializerMethodField(
        help_text="Null without a control group or before any response or conversion is recorded.")
    response_lift = serializers.SerializerMethodField(help_text="Null as conversion_lift is.")

    @extend_schema_field(LiftSerializer(allow_null=True))
    def get_conversion_lift(self, result: selectors.Result):
        lift: stats.Lift | None = result.conversion_lift
        return LiftSerializer(lift).data if lift else None

    @extend_schema_field(LiftSerializer(allow_null=True))
    def get_response_lift(self, result: selectors.Result):
        lift = result.response_lift
        return LiftSerializer(lift).data if lift else None


class CampaignResultsSerializer(serializers.Serializer):
    total = ResultSerializer()
    personas = ResultSerializer(many=True, source="strata",
                                help_text="Per persona (or segment targeted without a persona).")
