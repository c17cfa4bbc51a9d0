import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers import selectors
from customers.importing.mapping import KINDS
from customers.importing.validate import ANONYMOUS_KEEP, ANONYMOUS_REJECT
from customers.models import Customer, CustomerFeatures, FeatureSnapshot, ImportJob, ImportPreset


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, gzip-compressed CSV or XLSX.")
    kind = serializers.ChoiceField(choices=KINDS)
    mapping = serializers.CharField(
        required=False, default="{}",
        help_text='JSON object {"source column": "field"}; a field may be "attribute" or "ignore". '
        "Columns not named are detected.",
    )
    units = serializers.CharField(
        required=False, default=None, help_text='JSON object, e.g. {"annual_income": 1000}. Default: the preset\'s, or none.'
    )
    dayfirst = serializers.BooleanField(
        required=False, default=None, allow_null=True, help_text="Dates are day first (true: 03/02/2024 is 3 February) or month first (false). Default: the "
        "preset's, else the file's dates tell (25/12/2011 is day first); a file whose dates could be read "
        "either way is refused until this is set."
    )
    decimal_comma = serializers.BooleanField(
        required=False, default=None, allow_null=True,
        help_text='Numbers like "1.234,5". Default: the preset\'s, or false.',
    )
    anonymous = serializers.ChoiceField(
        choices=(ANONYMOUS_KEEP, ANONYMOUS_REJECT), required=False, default=None, allow_null=True,
        help_text="Rows without a customer id: keep (default) or reject.",
    )
    preset = serializers.CharField(
        required=False, default="", allow_blank=True,
        help_text="Name or id of a saved mapping preset: its mapping and options apply under what this request gives.",
    )
    save_preset = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=100,
        help_text="Save this import's mapping and options as a preset with this name (replacing one of that name).",
    )

    def _json_object(self, value, name):
        try:
            parsed = json.loads(value or "{}")
        except json.JSONDecodeError as error:
            raise serializers.ValidationError(f"{name} must be a JSON object: {error.msg}.") from error
        if not isinstance(parsed, dict):
            raise serializers.ValidationError(f"{name} must be a JSON object.")
        return parsed

    def validate_mapping(self, value):
        parsed = self._json_object(value, "mapping")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
            raise serializers.ValidationError("mapping maps column names to field names (strings).")
        return parsed

    def validate_units(self, value):
        if value is None:
            return None
        parsed = self._json_object(value, "units")
        try:
            units = {str(k): float(v) for k, v in parsed.items()}
        except (TypeError, ValueError) as error:
            raise serializers.ValidationError("units maps fields to positive numbers.") from error
        if any(v <= 0 for v in units.values()):
            raise serializers.ValidationError("units maps fields to positive numbers.")
        return units


class ImportPresetSerializer(serializers.ModelSerializer):
    mapping = serializers.DictField(
        child=serializers.CharField(), required=False, default=dict,
        help_text='{"source column": "field"}; a field may be "attribute" or "ignore".',
    )
    units = serializers.DictField(child=serializers.FloatField(), required=False, default=dict)
    anonymous = serializers.ChoiceField(choices=(ANONYMOUS_KEEP, ANONYMOUS_REJECT), default=ANONYMOUS_KEEP)
    created_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = ImportPreset
        fields = ["id", "name", "kind", "mapping", "units", "dayfirst", "decimal_comma", "anonymous",
                  "created_by", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # (kind, name) is checked by preset_save, which replaces a preset of the same name
        validators = []


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:import-detail")
    accepted = serializers.IntegerField(read_only=True)
    rejected_rows_url = serializers.SerializerMethodField()
    created_by = serializers.StringRelatedField()

    class Meta:
        model = ImportJob
        fields = [
            "id", "url", "kind", "status", "progress", "stage", "error", "original_name", "size_bytes",
            "mapping", "options", "rows_read", "accepted", "created", "updated", "unchanged", "rejected",
            "anonymous", "customers_created", "report", "preset", "rejected_rows_url", "created_by", "created_at",
            "started_at", "finished_at",
        ]

    def get_rejected_rows_url(self, job) -> str:
        path = f"/api/v1/imports/{job.pk}/rejected/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class CLVHoldoutSerializer(serializers.Serializer):
    holdout_days = serializers.IntegerField(help_text="Days at the end of the data the test fit did not see.")
    customers = serializers.IntegerField(help_text="Customers with a purchase before them.")
    predicted_repeat_purchases = serializers.FloatField()
    actual_repeat_purchases = serializers.FloatField()
    silent_days = serializers.IntegerField(help_text="Days without a purchase that make a customer long silent.")
    silent_customers = serializers.IntegerField(help_text="Repeat customers long silent when the holdout began.")
    silent_mean_p_alive = serializers.FloatField(allow_null=True)
    silent_predicted_return_share = serializers.FloatField(allow_null=True)
    silent_actual_return_share = serializers.FloatField(allow_null=True)


class CLVReliabilitySerializer(serializers.Serializer):
    """The same object as clv.diagnostics.reliability (customers.analytics.clv_reliability)."""

    verdict = serializers.ChoiceField(choices=["reliable", "not reliable"])
    p_alive_reliable = serializers.BooleanField(
        help_text="False: every customer's p_alive is null, for the reasons given.")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why not reliable, in words.")
    dropout_per_purchase = serializers.FloatField(allow_null=True, help_text="a / (a + b): mean chance of "
                                                  "dropping out after a purchase; below 0.01 fails.")
    no_dropout_log_likelihood = serializers.FloatField(allow_null=True)
    dropout_evidence = serializers.FloatField(allow_null=True, help_text="Likelihood-ratio statistic of BG/NBD "
                                              "over no drop-out; below 3.84 fails.")
    relative_se_a = serializers.FloatField(allow_null=True, help_text="Standard error of a over a; above 1 fails.")
    relative_se_b = serializers.FloatField(allow_null=True, help_text="Standard error of b over b; above 1 fails.")
    holdout = CLVHoldoutSerializer(allow_null=True)
    holdout_note = serializers.CharField(allow_blank=True, help_text="Why there is no holdout test, if none.")


class FeatureSnapshotSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:feature-snapshot-detail")
    created_by = serializers.StringRelatedField()
    clv_reliability = serializers.SerializerMethodField(
        help_text="Whether the lifetime-value fit's chance still active (p_alive) means anything on this data; "
                  "null when the models were not fitted or the snapshot predates the check.")

    class Meta:
        model = FeatureSnapshot
        fields = ["id", "url", "status", "progress", "stage", "error", "as_of", "requested_as_of", "trigger",
                  "customers", "clv", "clv_reliability", "summary", "created_by", "created_at", "started_at",
                  "finished_at"]

    @extend_schema_field(CLVReliabilitySerializer(allow_null=True))
    def get_clv_reliability(self, snapshot) -> dict | None:
        return selectors.clv_reliability(snapshot=snapshot)


class FeatureComputeSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="Compute as of this moment (ISO 8601). Default: the day after the last transaction.",
    )


class CustomerFeaturesSerializer(serializers.ModelSerializer):
    as_of = serializers.DateTimeField(source="snapshot.as_of")
    snapshot_id = serializers.IntegerField()
    p_alive_reliable = serializers.SerializerMethodField(
        help_text="False when the lifetime-value model is not reliable for this data: p_alive is then null and "
                  "p_alive_note says why. Null when the snapshot has no verdict.")
    p_alive_note = serializers.SerializerMethodField(help_text="Why p_alive is not given, in words; empty otherwise.")

    class Meta:
        model = CustomerFeatures
        exclude = ["id", "snapshot", "customer"]

    def get_p_alive_reliable(self, row) -> bool | None:
        report = selectors.clv_reliability(snapshot=row.snapshot)
        return None if report is None else bool(report["p_alive_reliable"])

    def get_p_alive_note(self, row) -> str:
        report = selectors.clv_reliability(snapshot=row.snapshot)
        if report is None or report["p_alive_reliable"]:
            return ""
        return "Not reliable for this data: " + " ".join(report["reasons"])


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CustomerSegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    run_id = serializers.IntegerField()
    distance = serializers.FloatField(allow_null=True, help_text="To the segment's centre (scaled units).")
    nearest_other = NamedRefSerializer(allow_null=True, help_text="The next closest segment.")


class CustomerDetailSerializer(serializers.ModelSerializer):
    features = serializers.SerializerMethodField(help_text="Null until features are computed.")
    segment = serializers.SerializerMethodField(help_text="In the published run; null when none is published.")
    personas = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = ["external_id", "name", "email", "gender", "age", "birth_year", "annual_income", "country", "city",
                  "signup_date", "attributes", "created_at", "updated_at", "features", "segment", "personas"]

    @extend_schema_field(CustomerFeaturesSerializer(allow_null=True))
    def get_features(self, customer) -> dict | None:
        row = self.context["features"]
        return CustomerFeaturesSerializer(row).data if row is not None else None

    @extend_schema_field(CustomerSegmentSerializer(allow_null=True))
    def get_segment(self, customer) -> dict | None:
        segment = self.context["segment"]
        if segment is None:
            return None
        nearest = getattr(segment, "nearest_other", None)
        return {
            "id": segment.pk, "name": segment.display_name, "run_id": segment.run_id,
            # how firmly the customer belongs: distance to the segment's centre (scaled
            # units) and the next closest segment
            "distance": getattr(segment, "member_distance", None),
            "nearest_other": {"id": nearest.pk, "name": nearest.display_name} if nearest else None,
        }

    @extend_schema_field(NamedRefSerializer(many=True))
    def get_personas(self, customer) -> list[dict]:
        return [{"id": p.pk, "name": p.name} for p in self.context["personas"]]
