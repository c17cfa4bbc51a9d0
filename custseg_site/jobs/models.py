"""The abstract job row every background job's model inherits (Saleor's core Job is the
example): the job's state lives in its row, which every role's page reads."""

from django.db import models


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobRow(models.Model):
    """Status fields moved only by custseg_site.jobs.lifecycle.

    A concrete model overrides `task_name` with its own default (the Celery task that runs
    it, sent by name so that no service imports a tasks module) and may set:
    - JOB_NOUN: the words the kernel's messages use for it ("this run", "this import");
    - JOB_BROKER_DOWN, JOB_TIMED_OUT: its own sentences for an enqueue that found no
      broker and for the soft time limit, instead of the kernel's;
    - JOB_CLEANUP: the dotted path of a function(pk) run once the job has failed (drop its
      staged rows, delete its stored upload).
    """

    Status = JobStatus
    ACTIVE_STATUSES = ACTIVE_STATUSES
    FINISHED_STATUSES = FINISHED_STATUSES
    JOB_NOUN = "this job"
    JOB_BROKER_DOWN = ""
    JOB_TIMED_OUT = ""
    JOB_CLEANUP = ""

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # Deliveries of the job that started computing: a worker that dies (out of memory,
    # killed) gets the message redelivered; past a bound the job fails instead of looping.
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    task_name = models.CharField(max_length=100, editable=False)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
