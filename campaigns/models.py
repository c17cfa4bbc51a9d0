from django.conf import settings
from django.db import models
from django.db.models import F, Q

from custseg_site.jobs.models import JobRow


class Campaign(models.Model):
    """A campaign aimed at personas and/or segments of the published run. Launching it
    freezes its audience (CampaignMember rows) and splits off a random holdout."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        ADS = "ads", "Ads"
        PUSH = "push", "Push"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200)
    objective = models.TextField(blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    offer = models.TextField(blank=True)
    target_personas = models.ManyToManyField(
        "segments.Persona", blank=True, related_name="campaigns"
    )
    target_segments = models.ManyToManyField(
        "segments.Segment", blank=True, related_name="campaigns"
    )
    # customers in any of these (a persona: its segment of the published run; a segment:
    # of any run, e.g. last quarter's "Lapsed") are left out of the audience
    exclude_personas = models.ManyToManyField(
        "segments.Persona", blank=True, related_name="excluded_from_campaigns"
    )
    exclude_segments = models.ManyToManyField(
        "segments.Segment", blank=True, related_name="excluded_from_campaigns"
    )
    # Share of each persona's (stratum's) members kept back as the control group. Four
    # decimals: shares are typed as percentages with at most two decimals (12.25 %).
    holdout_share = models.DecimalField(max_digits=5, decimal_places=4, default="0.1000")
    # picks who is in the holdout (see campaigns.services.audience_sql): same seed, same control set
    seed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns",
    )
    # set at launch: the run whose memberships the audience was taken from
    run = models.ForeignKey(
        "segments.SegmentationRun", null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns",
    )
    launched_at = models.DateTimeField(null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    # counts written at launch, so lists show audience sizes without counting members
    treated_count = models.PositiveIntegerField(default=0)
    control_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="campaign_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "scheduled", "active", "completed"]),
                name="campaign_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms", "ads", "push", "other"]),
                name="campaign_channel_valid",
            ),
            # a 100 % holdout would send nothing
            models.CheckConstraint(
                condition=Q(holdout_share__gte=0) & Q(holdout_share__lt=1), name="campaign_holdout_share_0_1",
            ),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gte=0), name="campaign_budget_not_negative",
            ),
            # draft means not launched; every other status has a frozen audience
            models.CheckConstraint(
                condition=Q(status="draft", launched_at__isnull=True) | (~Q(status="draft") & Q(launched_at__isnull=False)),
                name="campaign_launched_unless_draft",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_launched(self) -> bool:
        return self.launched_at is not None


class CampaignMember(models.Model):
    """One customer of a launched campaign's frozen audience."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members", db_index=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="campaign_memberships")
    # how the customer was targeted: the persona (null when only a segment target named
    # the segment) and the customer's segment in the launch run
    via_persona = models.ForeignKey(
        "segments.Persona", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
    )
    via_segment = models.ForeignKey(
        "segments.Segment", null=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
    )
    is_control = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # also the cursor order of the members API: (campaign, customer)
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_member_once"),
        ]

    def __str__(self):
        return f"{self.customer_id} in campaign {self.campaign_id}{' (control)' if self.is_control else ''}"


class CampaignOutcome(models.Model):
    """A response or conversion of an audience member, imported after the fact."""

    class Event(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        RESPONDED = "responded", "Responded"
        CONVERTED = "converted", "Converted"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="outcomes", db_index=False)
    member = models.ForeignKey(CampaignMember, on_delete=models.CASCADE, related_name="outcomes", db_index=False)
    event = models.CharField(max_length=10, choices=Event.choices)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    occurred_at = models.DateTimeField()
    batch = models.ForeignKey("OutcomeImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            # the same event of the same member at the same moment is one event: importing
            # a file twice adds nothing
            models.UniqueConstraint(fields=["member", "event", "occurred_at"], name="campaign_outcome_once"),
            models.CheckConstraint(
                condition=Q(event__in=["delivered", "opened", "clicked", "responded", "converted"]),
                name="campaign_outcome_event_valid",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "event"], name="campaign_outcome_event_idx")]

    def __str__(self):
        return f"{self.event} of member {self.member_id}"


# Events that count as a response: the customer acted on the message (a delivery or an
# open is not yet a response). A conversion is counted separately as well.
RESPONSE_EVENTS = (CampaignOutcome.Event.CLICKED, CampaignOutcome.Event.RESPONDED, CampaignOutcome.Event.CONVERTED)


class OutcomeImport(JobRow):
    """One outcomes import, run as a background job (custseg_site.jobs.lifecycle moves its status):
    rows read = added + duplicates (already recorded, or repeated in the file) + rejected.
    Its outcomes are written in the same transaction that marks it succeeded, so only a
    succeeded import has outcomes."""

    class Source(models.TextChoices):
        PAGE = "page", "Upload page"
        API = "api", "API"
        CLI = "cli", "Command line"

    JOB_NOUN = "this import"
    JOB_BROKER_DOWN = ("The job queue (Redis) could not be reached, so the import did not start. Check that Redis "
                       "and a worker are running, then upload again.")
    JOB_CLEANUP = "campaigns.services.outcome_imports.outcome_import_stopped"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="outcome_imports")
    source = models.CharField(max_length=4, choices=Source.choices)
    task_name = models.CharField(max_length=100, default="campaigns.import_outcomes", editable=False)
    file_name = models.CharField(max_length=255, blank=True)
    # the stored upload (under MEDIA_ROOT/outcome-imports/, removed once the job finishes),
    # or the command line's own file; empty for a JSON list imported in the request
    file_path = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # the file's header as read: the columns of the rejected-rows download
    header = models.JSONField(default=list, blank=True)
    rows = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # rejected rows per reason, all of them (each row is an OutcomeRejectedRow)
    reasons = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="outcome_import_progress_0_100"),
        ]

    def __str__(self):
        return f"outcomes import #{self.pk} of campaign {self.campaign_id}"


class OutcomeRejectedRow(models.Model):
    """A row an outcomes import refused: its line, why, and its cells as read."""

    outcome_import = models.ForeignKey(OutcomeImport, on_delete=models.CASCADE, related_name="rejected_rows",
                                       db_index=False)
    line = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    raw = models.JSONField(default=list, blank=True)  # the row's cells, as text

    class Meta:
        ordering = ["outcome_import", "line"]
        indexes = [models.Index(fields=["outcome_import", "line"], name="outcome_rejected_import_line")]


class OutcomeStagedRow(models.Model):
    """An accepted row of a running outcomes import, before the merge.

    Chunks land here as they are checked (committed, so progress and the web stay free to
    write); the merge moves them into CampaignOutcome in the one transaction that marks
    the job succeeded, so a failed or cancelled import leaves the outcomes as they were.
    No index and no database foreign keys: rows live only while their job runs, are read
    in one pass by the merge, and are deleted through Django or by job id.
    """

    outcome_import = models.ForeignKey(OutcomeImport, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    line = models.BigIntegerField()
    member = models.ForeignKey(CampaignMember, on_delete=models.CASCADE, db_index=False, db_constraint=False,
                               related_name="+")
    event = models.CharField(max_length=10)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    occurred_at = models.DateTimeField()
