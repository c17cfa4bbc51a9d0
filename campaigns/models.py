from django.db import models
from django.db.models import F, Q


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    target_personas = models.ManyToManyField(
        "segments.Persona", blank=True, related_name="campaigns"
    )
    target_segments = models.ManyToManyField(
        "segments.Segment", blank=True, related_name="campaigns"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
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
        ]

    def __str__(self):
        return self.name
