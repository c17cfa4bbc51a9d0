from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from custseg_site.dates import format_when
from custseg_site.jobs.models import JobRow


class SegmentationRun(JobRow):
    JOB_NOUN = "this run"
    JOB_BROKER_DOWN = ("The job queue (Redis) could not be reached, so the run was not started. Check that Redis "
                       "and a worker are running, then start the run again.")
    JOB_TIMED_OUT = "The run took longer than its time limit."

    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict)
    task_name = models.CharField(max_length=100, default="segments.run_segmentation", editable=False)
    metrics = models.JSONField(default=dict, blank=True)
    # A sample of customers in two dimensions for the scatter plot (see segments.ml).
    projection = models.JSONField(default=dict, blank=True)
    # model-selection curves over k and the rule that chose k (segments.ml.ModelSelection)
    selection = models.JSONField(default=dict, blank=True)
    # bootstrap stability: ARI per resample, Jaccard per segment (segments.ml.Stability)
    stability = models.JSONField(default=dict, blank=True)
    # how the data was prepared: imputed / dropped / clipped counts, log-transformed features
    preprocessing = models.JSONField(default=dict, blank=True)
    # things the run page must say, e.g. "agglomerative clustered a sample of 20,000"
    notes = models.JSONField(default=list, blank=True)
    # the fitted preprocessing and model (joblib), to assign new customers to this run
    model_file = models.FileField(upload_to="segmentation-models/", blank=True, max_length=300)
    # library versions the model was made with (a model is loaded only with the same ones)
    model_info = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="segmentation_runs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("run_segmentation", "Can start segmentation runs"),
            ("publish_run", "Can publish segmentation runs"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="run_progress_0_100"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "succeeded", "failed", "cancelled"]),
                name="run_status_valid",
            ),
            # Dashboards and the membership API read "the" published run: there is one.
            models.UniqueConstraint(
                fields=["published"], condition=Q(published=True), name="run_single_published"
            ),
            models.CheckConstraint(
                condition=Q(published=False) | Q(status="succeeded"),
                name="run_published_only_if_succeeded",
            ),
        ]
        indexes = [models.Index(fields=["status"], name="run_status_idx")]

    def __str__(self):
        return f"#{self.pk} {self.name}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Segment(models.Model):
    run = models.ForeignKey(SegmentationRun, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    label = models.CharField(max_length=200, blank=True)
    # centroid in feature units, per-feature mean/median/z-score, category shares, share of
    # customers and the top distinguishing features
    profile = models.JSONField(default=dict, blank=True)
    # DBSCAN/HDBSCAN's customers in no dense group: shown as "Outliers (not in any segment)"
    is_noise = models.BooleanField(default=False)
    # surrogate decision-tree rules: [{text, precision, recall, support}]
    rules = models.JSONField(default=list, blank=True)
    # mean bootstrap Jaccard (1 = the segment comes back identical in every resample)
    stability = models.FloatField(null=True, blank=True)
    revenue_share = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="segment_unique_index_per_run")
        ]

    def __str__(self):
        return self.label or f"Segment {self.index}"

    @property
    def display_name(self) -> str:
        return self.label or f"Segment {self.index + 1}"


class Membership(models.Model):
    # run and segment need no index of their own: the unique (run, customer) and the
    # (segment, customer) index below lead with them.
    run = models.ForeignKey(
        SegmentationRun, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="memberships"
    )
    # distance to the segment's centre in the run's scaled feature space, and the nearest
    # other segment (its index in the run): how firmly the customer belongs
    distance = models.FloatField(null=True, blank=True)
    nearest_segment_index = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="membership_one_per_run")
        ]
        indexes = [
            # members of a segment, paged by customer id (the API's cursor order)
            models.Index(fields=["segment", "customer"], name="membership_segment_idx"),
        ]

    def __str__(self):
        return f"{self.customer_id} in {self.segment_id}"


class RunPublication(models.Model):
    """One period during which a run was the published one: "which run was published on
    day D" (and so, with memberships, which segment a customer was in) stays answerable
    after other runs are published."""

    run = models.ForeignKey(SegmentationRun, on_delete=models.CASCADE, related_name="publications")
    published_at = models.DateTimeField()
    unpublished_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            # the open period is the run's current publication (runs allow one published run)
            models.UniqueConstraint(
                fields=["run"], condition=Q(unpublished_at__isnull=True), name="publication_one_open_per_run"
            ),
        ]
        indexes = [models.Index(fields=["published_at"], name="publication_published_at_idx")]

    def __str__(self):
        return f"run #{self.run_id} published {format_when(self.published_at)}"


class Persona(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        ADS = "ads", "Ads"
        PUSH = "push", "Push"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    colour = models.CharField(max_length=7, default="#4c78a8")  # hex #rrggbb
    # an emoji or up to four letters shown on the card; blank: the name's initials
    avatar = models.CharField(max_length=8, blank=True)
    goals = models.TextField(blank=True)
    pain_points = models.TextField(blank=True)
    # Persona.Channel values; a list (JSON) so it reads the same on SQLite and PostgreSQL
    channels = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="personas",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Set when a publish found no segment close enough to re-link to (see
    # segments.personas.services.personas_relink); review holds the best candidates.
    needs_review = models.BooleanField(default=False)
    review = models.JSONField(default=dict, blank=True)
    # The description the app last wrote from the linked segment's profile. While the
    # description is still that text it is rewritten when the link changes; once a person
    # edited it, a change of link marks it stale instead (segments.personas.services).
    generated_description = models.TextField(blank=True)
    description_stale = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at", "generated_description"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="persona_colour_hex"
            ),
            models.CheckConstraint(condition=Q(status__in=["draft", "approved"]), name="persona_status_valid"),
        ]

    def __str__(self):
        return self.name

    @property
    def avatar_text(self) -> str:
        if self.avatar:
            return self.avatar
        words = [word for word in self.name.replace(",", " ").split() if word[:1].isalnum()]
        return "".join(word[0] for word in words[:2]).upper() or "?"


class PersonaLink(models.Model):
    """A persona's link to one segment: the open one (unlinked_at is null) is the current
    link, the closed ones are its history across runs."""

    class How(models.TextChoices):
        CREATED = "created", "Created from the segment"
        RELINKED = "relinked", "Re-linked on publish"
        MANUAL = "manual", "Linked by hand"

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="links")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="persona_links")
    run = models.ForeignKey(SegmentationRun, on_delete=models.CASCADE, related_name="persona_links")
    linked_at = models.DateTimeField()
    unlinked_at = models.DateTimeField(null=True, blank=True)
    # how well the segment matched the previously linked one (null when created or by hand
    # without a previous link): Jaccard of members, cosine of z-score centres, combined
    jaccard = models.FloatField(null=True, blank=True)
    centroid_similarity = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    size = models.PositiveIntegerField()  # the segment's size when linked
    how = models.CharField(max_length=10, choices=How.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )

    class Meta:
        ordering = ["persona", "-linked_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["persona"], condition=Q(unlinked_at__isnull=True), name="persona_one_current_link"
            ),
            models.CheckConstraint(condition=Q(how__in=["created", "relinked", "manual"]), name="persona_link_how_valid"),
        ]

    def __str__(self):
        return f"{self.persona_id} -> segment {self.segment_id}"
