"""The value ranges of an import's data-quality report, gathered chunk by chunk.

Per numeric or date field (and each number or date custom attribute): how many values
were present, the smallest, the largest and the mean, over the rows that passed
validation. Memory stays a few numbers per field, whatever the file's size. No Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Typed columns of validated rows whose range the report shows (others are text).
RANGE_FIELDS = ("age", "birth_year", "annual_income", "signup_date", "timestamp", "quantity", "unit_price", "amount")


@dataclass
class _Range:
    count: int = 0
    total: float = 0.0
    low: object = None
    high: object = None
    is_date: bool = False

    def add(self, values: pd.Series) -> None:
        values = values.dropna()
        if values.empty:
            return
        low, high = values.min(), values.max()
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)
        self.count += int(values.size)
        if not self.is_date:
            self.total += float(values.sum())

    def as_dict(self) -> dict:
        if self.is_date:
            return {"count": self.count, "min": _iso(self.low), "max": _iso(self.high)}
        return {
            "count": self.count, "min": _number(self.low), "max": _number(self.high),
            "mean": round(self.total / self.count, 4) if self.count else None,
        }


def _iso(value) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).isoformat()


def _number(value):
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else round(number, 4)


class ValueRanges:
    def __init__(self):
        self._ranges: dict[str, _Range] = {}

    def _range(self, name: str, *, is_date: bool) -> _Range:
        return self._ranges.setdefault(name, _Range(is_date=is_date))

    def update(self, rows: pd.DataFrame, *, attributes: dict[str, str] | None = None) -> None:
        """Add a chunk of validated rows; `attributes` maps custom columns to their types."""
        if rows.empty:
            return
        for name in RANGE_FIELDS:
            if name not in rows:
                continue
            column = rows[name]
            if name == "signup_date":
                column = pd.to_datetime(column, errors="coerce")
            is_date = pd.api.types.is_datetime64_any_dtype(column)
            if not is_date:
                column = pd.to_numeric(column, errors="coerce")
            self._range(name, is_date=is_date).add(column)
        typed = {key: kind for key, kind in (attributes or {}).items() if kind in ("number", "date")}
        if typed and "attributes" in rows:
            table = pd.DataFrame.from_records(rows["attributes"].tolist(), columns=list(typed))
            for key, kind in typed.items():
                if kind == "number":
                    self._range(key, is_date=False).add(pd.to_numeric(table[key], errors="coerce"))
                else:
                    self._range(key, is_date=True).add(pd.to_datetime(table[key], errors="coerce"))

    def as_report(self) -> dict[str, dict]:
        return {name: r.as_dict() for name, r in self._ranges.items() if r.count}
