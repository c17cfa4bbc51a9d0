from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from campaigns import services
from campaigns.models import Campaign
from custseg_site.forms import ServiceCheckedForm
from segments.models import Persona, RunPublication, Segment
from segments.selectors import published_run

# Published runs whose segments the exclusion list offers: recent ones are the ones people
# exclude ("last quarter's Lapsed"); older runs' segments can still be excluded by the API.
EXCLUDABLE_RUNS = 5


class SegmentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, segment):
        return f"run #{segment.run_id} · {segment.display_name} ({segment.size:,} customers)"


class CampaignForm(ServiceCheckedForm):
    """The campaign's fields; campaigns.services checks them (dates, holdout share,
    targets, published run) in clean(), whatever the fields' own checks found, so one
    submit shows every problem; its messages land on the fields."""

    AUDIENCE_FIELDS = ("target_personas", "target_segments", "exclude_personas", "exclude_segments",
                       "holdout_percent", "seed")

    name = forms.CharField(max_length=200)
    objective = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                help_text="What the campaign should achieve, e.g. “win back lapsed customers”.")
    channel = forms.ChoiceField(choices=Campaign.Channel.choices)
    start_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    budget = forms.DecimalField(required=False, max_digits=14, decimal_places=2, min_value=0)
    offer = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                            help_text="What the customers are offered, e.g. “15 % off until Sunday”.")
    target_personas = forms.ModelMultipleChoiceField(
        queryset=Persona.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Reach these personas' customers (their segment of the published run).")
    target_segments = SegmentChoiceField(
        queryset=Segment.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Or segments of the published run, with or without a persona.")
    exclude_personas = forms.ModelMultipleChoiceField(
        queryset=Persona.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave these personas' customers out.")
    exclude_segments = SegmentChoiceField(
        queryset=Segment.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave out customers who were in these segments (of recent published runs).")
    holdout_percent = forms.DecimalField(
        label="Holdout (%)", initial=Decimal("10"), max_digits=5, decimal_places=2,
        help_text="Share of each persona's customers kept as a control group and not contacted (0 to 50): "
                  "lift is measured against them.")
    seed = forms.IntegerField(initial=0, min_value=0,
                              help_text="Chooses who is in the holdout; the same seed gives the same control group.")

    def __init__(self, *args, campaign: Campaign | None = None, launched: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        run = published_run()
        self.fields["target_personas"].queryset = self.fields["exclude_personas"].queryset = Persona.objects.order_by("name")
        self.fields["target_segments"].queryset = Segment.objects.filter(run=run).order_by("index") if run else Segment.objects.none()
        runs = RunPublication.objects.order_by("-published_at").values_list("run_id", flat=True)[:EXCLUDABLE_RUNS]
        self.fields["exclude_segments"].queryset = (Segment.objects.filter(run_id__in=list(runs))
                                                    .select_related("run").order_by("-run_id", "index"))
        if launched:
            for name in self.AUDIENCE_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Fixed at launch: the audience is frozen."

    def service_check(self, fields: dict) -> None:
        services.campaign_check(fields=fields, campaign=self.campaign)

    def holdout_warning(self) -> str | None:
        """A holdout under 1 % is allowed, but more often a share typed as a fraction."""
        value = self.cleaned_data.get("holdout_percent")
        if value is not None and 0 < value < 1:
            meant = format((value * 100).normalize(), "f")  # 0.9 -> "90", not "9E+1"
            return (f"The holdout is {format(value.normalize(), 'f')} %, under 1 in 100 customers of each persona. "
                    f"This field takes percent: for {meant} % write {meant}. "
                    "The launch page shows how many that keeps as control before anything is frozen.")
        return None

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["holdout_share"] = (data.pop("holdout_percent") / 100) if data.get("holdout_percent") is not None else None
        if self.fields["seed"].disabled:
            for name in ("target_personas", "target_segments", "exclude_personas", "exclude_segments",
                         "holdout_share", "seed"):
                data.pop(name, None)
        elif data["holdout_share"] is None:
            data.pop("holdout_share")
        if data.get("seed") is None:
            data.pop("seed", None)
        return data

    def add_service_errors(self, exc, *, skip_fields_in_error: bool = False) -> None:
        messages = dict(exc.message_dict)
        if "holdout_share" in messages:
            # the service speaks of the share (0 to 0.5); this field takes percent
            del messages["holdout_share"]
            messages["holdout_percent"] = [
                f"Give the holdout in percent, from 0 to 50 (10 means 10 % of each persona); "
                f"got {self.cleaned_data.get('holdout_percent')}."]
        super().add_service_errors(ValidationError(messages), skip_fields_in_error=skip_fields_in_error)

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict:
        initial = {name: getattr(campaign, name) for name in cls.base_fields if hasattr(campaign, name)}
        for name in ("target_personas", "target_segments", "exclude_personas", "exclude_segments"):
            initial[name] = list(getattr(campaign, name).all())
        initial["holdout_percent"] = (campaign.holdout_share * 100).normalize()
        return initial


class OutcomeUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (gzip-compressed too) or XLSX with a header: customer (external id), event (delivered, opened, clicked, "
                                     "responded, converted), revenue (conversions only), timestamp (ISO 8601).")
