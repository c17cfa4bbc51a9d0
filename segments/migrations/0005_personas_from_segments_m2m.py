"""Carry the old Persona.segments many-to-many over to PersonaLink rows, record the
published run's publication, and give existing personas their first history row.

A persona keeps one current link: its segment in the published run when it has one,
otherwise its newest segment; every other old segment becomes a closed link. Reversing
writes the links back into the many-to-many."""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    Persona = apps.get_model("segments", "Persona")
    PersonaLink = apps.get_model("segments", "PersonaLink")
    HistoricalPersona = apps.get_model("segments", "HistoricalPersona")
    SegmentationRun = apps.get_model("segments", "SegmentationRun")
    RunPublication = apps.get_model("segments", "RunPublication")
    now = timezone.now()

    for run in SegmentationRun.objects.filter(published=True):
        RunPublication.objects.create(run=run, published_at=run.published_at or now)

    for persona in Persona.objects.all():
        segments = sorted(
            persona.segments.select_related("run"),
            key=lambda s: (s.run.published, s.run.created_at, s.pk),
        )
        for position, segment in enumerate(segments):
            current = position == len(segments) - 1
            PersonaLink.objects.create(
                persona=persona, segment=segment, run=segment.run, size=segment.size, how="manual",
                linked_at=persona.created_at, unlinked_at=None if current else now,
            )
        HistoricalPersona.objects.create(
            id=persona.pk, name=persona.name, description=persona.description, colour=persona.colour,
            avatar=persona.avatar, goals=persona.goals, pain_points=persona.pain_points,
            channels=persona.channels, notes=persona.notes, owner_id=persona.owner_id,
            status=persona.status, needs_review=persona.needs_review, review=persona.review,
            created_at=persona.created_at, history_date=persona.created_at, history_type="+",
            history_change_reason="existing persona, before history was kept",
        )


def backwards(apps, schema_editor):
    PersonaLink = apps.get_model("segments", "PersonaLink")
    for link in PersonaLink.objects.select_related("persona"):
        link.persona.segments.add(link.segment_id)


class Migration(migrations.Migration):
    dependencies = [("segments", "0004_personas_links_publications")]

    operations = [migrations.RunPython(forwards, backwards)]
