"""Fill the aggregate cache (custseg_site.aggregate_cache) before anybody asks.

The persona cards, the features page and the exploration page aggregate a finished run's
memberships and a finished feature snapshot's rows: up to 2 s at a million customers, paid
by the first visitor after a publish or a new snapshot. Run by a job right after either, the
visitor reads the cache instead. Only reads: what it computes is what the pages would.
"""

from __future__ import annotations

import logging
import time

from celery import current_app
from kombu.exceptions import OperationalError as BrokerError

from customers import selectors as customer_selectors
from segments.personas import selectors as persona_selectors

logger = logging.getLogger(__name__)


def page_caches_warm() -> dict[str, int]:
    """Compute the cached aggregates of the current feature snapshot and of every persona's
    card and default Sankey; returns what was warmed."""
    started = time.monotonic()
    warmed = {"snapshot": 0, "personas": 0, "comparisons": 0}
    snapshot = customer_selectors.feature_snapshot_current()
    if snapshot is not None:
        customer_selectors.rfm_segment_counts(snapshot=snapshot)
        customer_selectors.rfm_grid(snapshot=snapshot)
        customer_selectors.feature_aggregates(snapshot=snapshot)
        customer_selectors.feature_sample(snapshot=snapshot)
        warmed["snapshot"] = 1
    compared = set()
    for persona in persona_selectors.persona_list():
        if not persona.current_links:
            continue
        persona_selectors.persona_card(persona=persona)
        warmed["personas"] += 1
        runs = persona_selectors.sankey_runs(persona=persona)
        if runs is not None and (runs[0].pk, runs[1].pk) not in compared:
            persona_selectors.migration(run_a=runs[0], run_b=runs[1])
            compared.add((runs[0].pk, runs[1].pk))
    warmed["comparisons"] = len(compared)
    logger.info("custseg.page_caches_warmed snapshot=%s personas=%s comparisons=%s seconds=%.1f",
                warmed["snapshot"], warmed["personas"], warmed["comparisons"], time.monotonic() - started)
    return warmed


def page_caches_warm_enqueue() -> None:
    """On commit of a publish or a new feature snapshot: the job, sent by name. A broker
    outage costs only the head start: the pages compute what they need when first asked."""
    try:
        current_app.send_task("custseg_site.warm_page_caches")
    except BrokerError:
        logger.warning("custseg.page_caches_enqueue_failed")
