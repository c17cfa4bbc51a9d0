"""The job kernel: one abstract job row and one lifecycle for every background job (runs,
imports, feature snapshots, outcome imports, and whatever comes next).

- `custseg_site.jobs.models`: `JobRow`, the abstract model with the job fields
  (status, progress, stage, error, attempts, started_at, finished_at, task_name).
- `custseg_site.jobs.lifecycle`: every status transition (enqueue by task name, claim,
  progress, succeed, fail, cancel) and the error boundary of a job's body.
- `custseg_site.jobs.worker`: the Celery side (task base, options, transient errors, lock).
"""

