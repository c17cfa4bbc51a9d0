"""The job after a publish or a new feature snapshot fills the page caches: the first
visitor of a persona card, the features page or explore gets them from the cache."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.services.features import features_compute_create, features_execute
from custseg_site.warm import page_caches_warm
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(analyst, marketer):
    customers = CustomerFactory.create_batch(8)
    for i, customer in enumerate(customers):
        for visit in range(1 + i % 3):
            TransactionFactory(customer=customer, timestamp=timezone.now() - timedelta(days=10 + 30 * visit + i),
                               invoice_id=f"I{i}-{visit}", quantity=1, unit_price=Decimal(20 + i),
                               amount=Decimal(20 + i))
    snapshot = features_compute_create()
    features_execute(snapshot_id=snapshot.pk)
    old = segmented_run(groups={0: customers[:5], 1: customers[5:]}, publish=True, by=analyst,
                        finished_at=timezone.now())
    persona = persona_create(segment=old.segments.get(index=0), name="Regulars", by=marketer)
    new = segmented_run(groups={0: customers[:4], 1: customers[4:]}, publish=True, by=analyst,
                        finished_at=timezone.now())
    return persona, new


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries.captured_queries), response.content


@pytest.mark.parametrize("page", ["persona", "features", "explore"])
def test_a_warmed_page_reads_its_aggregates_from_the_cache(client, manager, published, page):
    persona, _ = published
    url = {"persona": reverse("segments:persona-detail", args=[persona.pk]),
           "features": reverse("customers:features"), "explore": reverse("customers:features-explore")}[page]
    client.force_login(manager)
    # given the page as the first visitor found it without the job: it aggregated the rows
    cold, _ = _queries(client, url)
    cache.clear()
    # when the job has run after the publish and the snapshot
    warmed = page_caches_warm()
    assert warmed == {"snapshot": 1, "personas": 1, "comparisons": 1}
    # then the first visit makes fewer queries: the aggregates come from the cache
    after, _ = _queries(client, url)
    assert after < cold
