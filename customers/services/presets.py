"""Mapping presets: a file's column mapping and reading options, saved under a name."""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.importing.mapping import ALIASES, KINDS
from customers.importing.validate import ANONYMOUS_KEEP, ANONYMOUS_REJECT, ImportOptions
from customers.models import ImportPreset

SPECIAL_TARGETS = ("attribute", "ignore")


def preset_validate(*, name: str, kind: str, mapping: dict[str, str], units: dict[str, float]) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Give the preset a name."]
    elif len(name.strip()) > 100:
        errors["name"] = ["A preset name has at most 100 characters."]
    if kind not in KINDS:
        errors["kind"] = [f"Choose one of {', '.join(KINDS)}."]
    else:
        allowed = set(ALIASES[kind]) | set(SPECIAL_TARGETS)
        unknown = sorted({target for target in mapping.values() if target not in allowed})
        if unknown:
            errors["mapping"] = [f"Unknown field(s) for {kind}: {', '.join(unknown)}. "
                                 f"Fields: {', '.join(sorted(allowed))}."]
        bad_units = sorted(field for field in units if field not in ALIASES[kind])
        if bad_units:
            errors["units"] = [f"Unknown field(s) in units: {', '.join(bad_units)}."]
    if any(factor <= 0 for factor in units.values()):
        errors.setdefault("units", []).append("A unit multiplier must be a positive number.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def preset_save(
    *, name: str, kind: str, mapping: dict[str, str], options: ImportOptions, created_by=None
) -> ImportPreset:
    """Create the preset, or replace the mapping and options of the one with this name."""
    preset_validate(name=name, kind=kind, mapping=mapping, units=options.units)
    values = asdict(options)
    preset, _ = ImportPreset.objects.update_or_create(
        kind=kind, name=name.strip(),
        defaults={
            "mapping": dict(mapping), "units": values["units"], "dayfirst": values["dayfirst"],
            "decimal_comma": values["decimal_comma"], "anonymous": values["anonymous"],
        },
        create_defaults={
            "mapping": dict(mapping), "units": values["units"], "dayfirst": values["dayfirst"],
            "decimal_comma": values["decimal_comma"], "anonymous": values["anonymous"],
            "created_by": created_by if created_by is not None and created_by.is_authenticated else None,
        },
    )
    return preset


def preset_delete(*, preset: ImportPreset) -> None:
    preset.delete()


def preset_options(
    preset: ImportPreset | None, *, dayfirst: bool | None = None, decimal_comma: bool | None = None,
    units: dict[str, float] | None = None, anonymous: str | None = None,
) -> ImportOptions:
    """Reading options: what the caller gave, else the preset's, else the defaults."""
    defaults = ImportOptions()
    if preset is not None:
        defaults = ImportOptions(
            # None: the preset does not say, and the file's dates tell
            dayfirst=preset.dayfirst, decimal_comma=preset.decimal_comma,
            units={k: float(v) for k, v in preset.units.items()},
            anonymous=preset.anonymous if preset.anonymous in (ANONYMOUS_KEEP, ANONYMOUS_REJECT) else ANONYMOUS_KEEP,
        )
    return ImportOptions(
        dayfirst=defaults.dayfirst if dayfirst is None else dayfirst,
        decimal_comma=defaults.decimal_comma if decimal_comma is None else decimal_comma,
        units=defaults.units if units is None else units,
        anonymous=defaults.anonymous if anonymous is None else anonymous,
    )


def preset_find(*, name_or_id: str, kind: str | None = None) -> ImportPreset:
    """A preset by id or name; ValidationError naming the presets there are."""
    presets = ImportPreset.objects.all() if kind is None else ImportPreset.objects.filter(kind=kind)
    text = str(name_or_id).strip()
    found = presets.filter(pk=int(text)).first() if text.isdecimal() else None
    found = found or presets.filter(name=text).first()
    if found is None:
        names = ", ".join(presets.values_list("name", flat=True)[:20]) or "none saved yet"
        raise ValidationError({"preset": [f"No {kind or ''} preset {text!r}. Presets: {names}.".replace("  ", " ")]})
    return found


def preset_overrides(preset: ImportPreset, header: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The preset's mapping for the columns this file has, under the caller's own choices."""
    merged = {column: target for column, target in preset.mapping.items() if column in header}
    merged.update(overrides or {})
    return merged
