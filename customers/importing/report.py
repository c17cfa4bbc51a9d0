"""The value ranges of an import's data-quality report, from aggregates over accepted rows.

Per numeric or date field (and each number or date custom attribute): how many values are
present, the smallest, the largest and the mean. The aggregates come from SQL over the
staged rows once the file's repeated lines are gone (customers.services.imports); this
module only shapes them for the report. No Django.
"""

from __future__ import annotations

import pandas as pd


def _iso(value) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).isoformat()


def _number(value):
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else round(number, 4)


def value_ranges_report(aggregates: dict[str, dict]) -> dict[str, dict]:
    """{name: {"kind": "number"|"date", "count", "min", "max", "mean"}} -> the report's shape;
    fields without a value are left out."""
    report = {}
    for name, values in aggregates.items():
        if not values.get("count"):
            continue
        if values["kind"] == "date":
            report[name] = {"count": values["count"], "min": _iso(values["min"]), "max": _iso(values["max"])}
        else:
            mean = values.get("mean")
            report[name] = {"count": values["count"], "min": _number(values["min"]), "max": _number(values["max"]),
                            "mean": round(float(mean), 4) if mean is not None else None}
    return report
