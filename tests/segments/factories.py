import factory

from segments import services
from segments.models import SegmentationRun


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"

    username = factory.Sequence(lambda n: f"user{n}")


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentationRun

    name = factory.Sequence(lambda n: f"run {n}")
    created_by = factory.SubFactory(
        "tests.segments.factories.UserFactory"
    )
    config = factory.LazyFunction(
        lambda: {"algorithm": "kmeans", "features": ["recency", "frequency", "monetary"], "k": 3, "seed": 0,
                 # bootstrap refits are tested where they matter; elsewhere they only cost time
                 "stability_resamples": 0}
    )


def finished_run(**config) -> SegmentationRun:
    """A run computed by the real service on whatever customers exist."""
    run = RunFactory(config={**RunFactory.config.function(), **config})
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run


def _profile(index: int, size: int, total: int, zscore: dict) -> dict:
    # mean/median in feature units: z-score times a spread of 10 around 50 (age-like)
    values = {name: 50 + 10 * z for name, z in zscore.items()}
    return {
        "share": size / total if total else 0.0,
        "centroid": values, "mean": values, "median": values, "zscore": zscore, "categories": {},
        "top_features": sorted(([name, z] for name, z in zscore.items()), key=lambda pair: -abs(pair[1])),
    }


def segmented_run(*, groups: dict, zscores: dict | None = None, revenue: dict | None = None,
                  publish: bool = False, by=None, **fields) -> SegmentationRun:
    """A finished run written directly (no engine): groups maps a segment index to its
    customers; zscores and revenue (share) per index. Published through the service when asked."""
    from segments.models import Membership, Segment

    run = RunFactory(**{"status": SegmentationRun.Status.SUCCEEDED, "progress": 100, **fields})
    total = sum(len(customers) for customers in groups.values())
    memberships = []
    for index, customers in groups.items():
        zscore = (zscores or {}).get(index, {})
        segment = Segment.objects.create(
            run=run, index=index, size=len(customers), profile=_profile(index, len(customers), total, zscore),
            rules=[{"text": f"rule of segment {index}", "precision": 0.9, "recall": 0.8, "support": len(customers)}],
            revenue_share=(revenue or {}).get(index),
        )
        memberships += [Membership(run=run, segment=segment, customer=customer, distance=0.5) for customer in customers]
    Membership.objects.bulk_create(memberships)
    if publish:
        run = services.run_publish(run=run, by=by)
    return run


def feature_snapshot(rows: dict) -> "FeatureSnapshot":  # noqa: F821
    """A succeeded feature snapshot: rows maps a customer to (clv, rfm_segment)."""
    from django.utils import timezone

    from customers.models import CustomerFeatures, FeatureSnapshot

    snapshot = FeatureSnapshot.objects.create(status="succeeded", progress=100, as_of=timezone.now(),
                                              finished_at=timezone.now(), customers=len(rows))
    CustomerFeatures.objects.bulk_create([
        CustomerFeatures(snapshot=snapshot, customer=customer, clv=clv, rfm_segment=rfm, clv_status="ok")
        for customer, (clv, rfm) in rows.items()
    ])
    return snapshot
