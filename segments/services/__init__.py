"""Writes for segmentation runs, by concern:

- runs.py     validate options against the data, create (enqueue), cancel
- execute.py  the run's job: load features, segment, persist with its success
- publish.py  publish a finished run (personas re-linked, webhooks, page caches)
- assign.py   place customers in a finished run's segments with its stored model

Callers import the names below from `segments.services`.
"""

from segments.services.assign import MAX_ASSIGN_BATCH, AssignError, customers_assign
from segments.services.execute import run_execute
from segments.services.publish import PublishError, run_publish
from segments.services.runs import run_cancel, run_create, run_validate

__all__ = [
    "MAX_ASSIGN_BATCH", "AssignError", "PublishError", "customers_assign", "run_cancel", "run_create", "run_execute",
    "run_publish", "run_validate",
]
