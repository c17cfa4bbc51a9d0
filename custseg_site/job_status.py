"""TEMPORARY: see custseg_site.job_rows."""

from custseg_site.jobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, JobStatus  # noqa: F401
