"""Pages speak a marketer's language: features by display name, algorithms in words, segment
names and rules without machine names (CSV headers and API keys keep the machine names)."""

import re

import pytest
from django.urls import reverse

from customers.models import CustomAttribute, Customer
from customers.services.features import features_compute_create, features_execute
from segments import services
from segments.personas.services import persona_create
from tests.customers.factories import planted_customers
from tests.segments.factories import finished_run

pytestmark = pytest.mark.django_db

FEATURES = ["recency", "frequency", "monetary", "tenure", "age", "annual_income", "attr_spending_score_1_100"]
# machine names that must not reach a page, its tables or its charts
MACHINE_WORDS = ["kmeans", "gmm", "agglomerative", "annual_income", "attr_", "avg_order_value", "label -1",
                 "high monetary", "low recency", "Typical customers (Segment"]
EQUAL_BOUNDS = re.compile(r"(\w[\w ()-]*) >= (\d+(?:\.\d+)?) and \1 <= \2\b")


@pytest.fixture
def customers():
    """Planted buyers with an imported "Spending Score (1-100)" column, as Mall Customers has."""
    groups = planted_customers(per_group=20)
    CustomAttribute.objects.create(key="Spending Score (1-100)", feature_name="attr_spending_score_1_100",
                                   type=CustomAttribute.Type.NUMBER)
    for position, customer in enumerate(Customer.objects.order_by("id")):
        customer.attributes = {"Spending Score (1-100)": 10 + position % 90}
        customer.save(update_fields=["attributes"])
    snapshot = features_compute_create()
    features_execute(snapshot_id=snapshot.pk)
    return groups


def visible(content: bytes) -> str:
    """The page's text and chart data, without URLs (a link may carry a feature name)."""
    return re.sub(r'(href|action|src)="[^"]*"', "", content.decode())


def assert_in_words(page: str):
    leaks = [word for word in MACHINE_WORDS if word.lower() in page.lower()]
    assert not leaks, leaks
    assert not EQUAL_BOUNDS.search(page), EQUAL_BOUNDS.search(page).group(0)


def test_run_segment_persona_and_customer_pages_use_no_machine_names(client, analyst, marketer, customers):
    # given a hierarchical run and a Gaussian mixture on recency, frequency, spend, age, income
    # and the imported spending score, the first published with a persona
    run = finished_run(algorithm="agglomerative", linkage="ward", features=FEATURES, log_features="auto")
    finished_run(algorithm="gmm", k=3, features=FEATURES, log_features=["monetary", "annual_income"])
    services.run_publish(run=run, by=analyst)
    segment = run.segments.get(index=0)
    client.force_login(marketer)
    form = client.get(reverse("segments:persona-create") + f"?segment={segment.pk}")
    persona = persona_create(segment=segment, name=form.context["form"].initial["name"], by=marketer)
    customer = customers["loyal"][0]

    client.force_login(analyst)
    pages = {
        "run list": reverse("segments:run-list"),
        "run": reverse("segments:run-detail", args=[run.pk]),
        "other run": reverse("segments:run-detail", args=[run.pk + 1]),
        "segment": reverse("segments:segment-detail", args=[segment.pk]),
        "persona": reverse("segments:persona-detail", args=[persona.pk]),
        "customer": reverse("customers:customer-detail", args=[customer.external_id]),
        "overview": reverse("home"),
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        page = visible(response.content)
        # then each page says features, algorithms and segments in words
        assert_in_words(page)
    run_page = visible(client.get(pages["run"]).content)
    assert "Hierarchical (Ward)" in run_page and "Gaussian mixture" in visible(client.get(pages["run list"]).content)
    assert "Annual income" in run_page and "Spending score (1-100)" in run_page
    assert "Days since last order" in run_page and "Net spend" in run_page
    customer_page = visible(client.get(pages["customer"]).content)
    assert "Days since last order" in customer_page and "Chance still active" in customer_page
    assert "P(alive)" not in customer_page and "Days as a customer" in run_page
    # and the segment names come from the vocabulary, not "High x, low y"
    assert not any(re.match(r"^(High|Low) ", s.label) and "," in s.label for s in run.segments.all())


def test_the_csv_and_the_api_keep_machine_names(client, api_client, analyst, customers):
    run = finished_run(features=FEATURES)
    client.force_login(analyst)
    segment = run.segments.get(index=0)
    header = b"".join(client.get(reverse("segments:segment-export", args=[segment.pk])).streaming_content).split(b"\r\n")[0]
    assert b"annual_income" in header
    body = api_client(analyst).get(f"/api/v1/runs/{run.pk}/").json()
    assert body["config"]["algorithm"] == "kmeans" and "annual_income" in body["config"]["features"]


def test_a_run_stored_before_display_names_reads_in_words_too(client, analyst):
    # given a run computed before rules named features by display name
    from segments.models import Segment
    from tests.customers.factories import CustomerFactory
    from tests.segments.factories import segmented_run

    run = segmented_run(groups={0: CustomerFactory.create_batch(3)}, zscores={0: {"frequency": 1.2}})
    Segment.objects.filter(run=run).update(rules=[
        {"text": "frequency >= 4 and frequency <= 4 and annual_income > 70000 and country is not frequency",
         "precision": 0.9, "recall": 0.8, "support": 3},
        {"text": "recency <= 30 and monetary >= 500", "precision": 0.7, "recall": 0.6, "support": 2},
    ])
    segment = run.segments.get()
    client.force_login(analyst)
    # when its pages are read
    for url in (reverse("segments:run-detail", args=[run.pk]), reverse("segments:segment-detail", args=[segment.pk])):
        page = visible(client.get(url).content)
        # then the rule says the features by their display names and equal bounds once;
        # a category value that happens to spell a feature's key is left as it is
        assert "Orders = 4 and Annual income &gt; 70000 and Country is not frequency" in page
        # with the signs people write
        assert "Days since last order ≤ 30 and Net spend ≥ 500" in page
    segment.refresh_from_db()
    assert segment.rules[0]["text"].startswith("frequency >= 4")  # what is stored is not rewritten
