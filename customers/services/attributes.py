"""The registry of custom attributes that imports brought in (customers.CustomAttribute)."""

from __future__ import annotations

import re

from customers.models import CustomAttribute, ImportJob

FEATURE_PREFIX = "attr_"
# Room for a "_2" suffix within CustomAttribute.feature_name's 80 characters.
FEATURE_SLUG_CHARS = 70


def attribute_feature_name(key: str, taken: set[str]) -> str:
    """A feature name that is safe in a comma-separated --features list and a URL."""
    slug = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")[:FEATURE_SLUG_CHARS] or "column"
    name, suffix = f"{FEATURE_PREFIX}{slug}", 2
    while name in taken:
        name, suffix = f"{FEATURE_PREFIX}{slug}_{suffix}", suffix + 1
    return name


def attribute_types_known(attributes: dict[str, str]) -> dict[str, str]:
    """The registered type of each of these columns that an earlier import brought."""
    return dict(CustomAttribute.objects.filter(key__in=list(attributes)).values_list("key", "type"))


def attributes_register(*, attributes: dict[str, str], job: ImportJob | None = None) -> list[CustomAttribute]:
    """Record the custom columns of a customers import; known ones keep their type."""
    known = set(CustomAttribute.objects.filter(key__in=list(attributes)).values_list("key", flat=True))
    new = {key: kind for key, kind in attributes.items() if key not in known}
    if not new:
        return []
    taken = set(CustomAttribute.objects.values_list("feature_name", flat=True))
    created = []
    for key, kind in new.items():
        name = attribute_feature_name(key, taken)
        taken.add(name)
        created.append(CustomAttribute(key=key[:200], feature_name=name, type=kind, first_import=job))
    # ignore_conflicts: two imports finishing together may register the same column
    return CustomAttribute.objects.bulk_create(created, ignore_conflicts=True)
