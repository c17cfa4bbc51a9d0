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
