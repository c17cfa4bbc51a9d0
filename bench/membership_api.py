"""Pulling every member of a persona through the membership API, against COPY of the same
rows, with the web process's memory growth.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/custseg_bench_members \
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/membership_api.py --persona 2

The requests go through Django's test Client in this process (the whole stack: middleware,
DRF, token authentication and throttling, the view, JSON rendering), so this process *is*
the web process whose memory is measured: RSS is sampled every 10 ms by a thread, and the
growth is the peak during a pull minus the RSS just before it.

Measured, best of --repeat each, alternating:
- COPY (SELECT c.external_id ... ORDER BY customer id) TO STDOUT of the persona's members,
  read to the end by psycopg (the baseline; also without ORDER BY, the faster is used);
- the paginated API: GET /api/v1/personas/{id}/members/?page_size=10000, following `next`
  to the end, each page's JSON parsed (what a client does);
- the CSV export: GET .../members/csv/, streamed to the end.

--setup prepares a database that has customers and a feature snapshot but no runs: a k = 4
k-means run on recency, frequency and monetary, published, a persona on its largest segment,
then a run with every customer in one segment (written with INSERT ... SELECT), published, and
a persona on it (the "1M-customer persona").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# RSS is sampled this often: a 10,000-row page takes tens of milliseconds to build.
SAMPLE_SECONDS = 0.01


class PeakRSS:
    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.peak = self.start = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(SAMPLE_SECONDS)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def setup():
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from segments import services
    from segments.models import Membership, Persona, Segment, SegmentationRun
    from segments.personas.services import persona_create

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
    run = SegmentationRun.objects.filter(name="bench: k-means k=4").first()
    if run is None:
        run = SegmentationRun.objects.create(name="bench: k-means k=4", config={
            "algorithm": "kmeans", "features": ["recency", "frequency", "monetary"], "k": 4, "seed": 0,
            "stability_resamples": 0})
        services.run_execute(run_id=run.pk)
        run.refresh_from_db()
    if not Persona.objects.filter(links__run=run).exists():
        services.run_publish(run=run, by=user)
        largest = run.segments.order_by("-size").first()
        persona_create(segment=largest, name=f"Bench: largest k=4 segment ({largest.size:,})", by=user)
    if not SegmentationRun.objects.filter(name="bench: everyone").exists():
        with transaction.atomic():
            run = SegmentationRun.objects.create(name="bench: everyone", status="succeeded", progress=100,
                                                 config={"algorithm": "bench"})
            segment = Segment.objects.create(run=run, index=0, size=0, label="Everyone", profile={"share": 1.0})
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {Membership._meta.db_table} (run_id, segment_id, customer_id, distance) "
                    "SELECT %s, %s, id, 0.5 FROM customers_customer", [run.pk, segment.pk])
                segment.size = cursor.rowcount
            segment.save(update_fields=["size"])
            SegmentationRun.objects.filter(pk=run.pk).update(finished_at=run.created_at)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Membership._meta.db_table}")
        services.run_publish(run=run, by=user)
        persona_create(segment=segment, name=f"Bench: everyone ({segment.size:,})", by=user)
    for persona in Persona.objects.order_by("pk"):
        link = persona.links.get(unlinked_at__isnull=True)
        print(f"persona {persona.pk}: {persona.name}, segment {link.segment_id} of run {link.run_id}")


def copy_baseline(segment_id: int, ordered: bool) -> tuple[float, int]:
    from django.db import connection

    order = " ORDER BY m.customer_id" if ordered else ""
    started = time.perf_counter()
    size = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
                "COPY (SELECT c.external_id FROM segments_membership m JOIN customers_customer c "
                f"ON c.id = m.customer_id WHERE m.segment_id = %s{order}) TO STDOUT", (segment_id,)) as copy:
            for block in copy:
                size += len(block)
    return time.perf_counter() - started, size


def api_pull(client, url: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    members = pages = 0
    response = client.get(url, {"page_size": 10_000})
    while True:
        assert response.status_code == 200, response.content[:300]
        body = json.loads(response.content)
        members += len(body["results"])
        pages += 1
        if not body["next"]:
            break
        response = client.get(body["next"])
    return time.perf_counter() - started, members, pages


def csv_pull(client, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url.rstrip("/") + "/csv/")
    assert response.status_code == 200
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    response.close()
    return time.perf_counter() - started, size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="Create the runs and personas (see above).")
    parser.add_argument("--persona", type=int, help="The persona whose members are pulled.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") or "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the baseline is COPY).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custseg_site.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.setup:
        setup()
    if not args.persona:
        return
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from custseg_site import roles
    from integrations.services.tokens import token_create
    from segments.models import Persona
    from segments.personas.selectors import current_link

    persona = Persona.objects.get(pk=args.persona)
    segment_id = current_link(persona).segment_id
    # the token of an integration user with the Manager role (reads everything), not a
    # superuser: its permissions come from the role, as in a real deployment
    user, _ = get_user_model().objects.get_or_create(username="bench-integration")
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    _, key = token_create(user=user, name="bench", scopes=["membership:read"])
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/v1/personas/{persona.pk}/members/"
    api_pull(client, url + "?page_size=10")  # warm up imports and connections
    results = {"copy": [], "copy_unordered": [], "api": [], "csv": [], "api_mb": [], "csv_mb": []}
    for attempt in range(args.repeat):
        seconds, _ = copy_baseline(segment_id, ordered=True)
        results["copy"].append(seconds)
        seconds, _ = copy_baseline(segment_id, ordered=False)
        results["copy_unordered"].append(seconds)
        with PeakRSS() as rss:
            seconds, members, pages = api_pull(client, url)
        results["api"].append(seconds)
        results["api_mb"].append(rss.growth_mb)
        with PeakRSS() as rss:
            seconds, size = csv_pull(client, url)
        results["csv"].append(seconds)
        results["csv_mb"].append(rss.growth_mb)
        print(f"attempt {attempt + 1}: COPY {results['copy'][-1]:.2f} s (unordered {results['copy_unordered'][-1]:.2f} s), "
              f"API {results['api'][-1]:.2f} s ({members:,} members in {pages} pages, +{results['api_mb'][-1]:.0f} MB), "
              f"CSV {results['csv'][-1]:.2f} s ({size / 1e6:.1f} MB, +{results['csv_mb'][-1]:.0f} MB)", flush=True)
    copy = min(min(results["copy"]), min(results["copy_unordered"]))
    api, csv_seconds = min(results["api"]), min(results["csv"])
    print(f"\npersona {persona.pk} ({persona.name}): {members:,} members")
    print(f"COPY baseline (best): {copy:.2f} s")
    print(f"API, page_size 10,000: {api:.2f} s = {api / copy:.2f}x COPY (target 3x), "
          f"memory growth max {max(results['api_mb']):.0f} MB")
    print(f"CSV export: {csv_seconds:.2f} s = {csv_seconds / copy:.2f}x COPY (target 2x), "
          f"memory growth max {max(results['csv_mb']):.0f} MB")


if __name__ == "__main__":
    main()
