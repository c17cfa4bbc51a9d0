"""A published run with two personas, and campaigns on it."""

from __future__ import annotations

from dataclasses import dataclass

from campaigns import services
from customers.models import Customer
from segments.models import Persona, SegmentationRun
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run


@dataclass
class World:
    run: SegmentationRun
    customers: list[Customer]
    big: Persona  # segment 0
    lapsed: Persona  # segment 1
    # segment 2 has no persona


def world(*, sizes=(40, 30, 20), by=None) -> World:
    """A published run with segments of the given sizes; personas on segments 0 and 1."""
    customers = CustomerFactory.create_batch(sum(sizes))
    groups, start = {}, 0
    for index, size in enumerate(sizes):
        groups[index] = customers[start:start + size]
        start += size
    run = segmented_run(groups=groups, publish=True, by=by)
    big = persona_create(segment=run.segments.get(index=0), name="Big spenders", by=by)
    lapsed = persona_create(segment=run.segments.get(index=1), name="Lapsed", by=by)
    return World(run=run, customers=customers, big=big, lapsed=lapsed)


def campaign(w: World, *, by=None, personas=None, segments=(), **fields):
    return services.campaign_create(
        name=fields.pop("name", "Spring sale"), created_by=by,
        target_personas=[w.big, w.lapsed] if personas is None else personas, target_segments=segments, **fields)


def outcomes_file(tmp_path, text: str | bytes, name: str = "outcomes.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def import_outcomes(c, path, *, by=None, source="cli"):
    """Create the import as an upload does, then do the worker's part in this process."""
    from campaigns.services import outcome_imports

    job = outcome_imports.outcome_import_create(campaign=c, path=path, file_name=path.name, source=source, by=by)
    outcome_imports.outcome_import_execute(import_id=job.pk)
    job.refresh_from_db()
    return job
