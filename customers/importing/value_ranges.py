"""Value ranges of an import's accepted lines (count, smallest, largest, exact mean), summed
chunk by chunk for the import's report."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from customers.importing.report import value_ranges_report

# The fields whose ranges a transactions import reports.
RANGE_FIELDS = ("timestamp", "quantity", "unit_price", "amount")


class ValueRanges:
    """Count, smallest, largest and exact mean of the accepted lines' numbers and dates,
    summed chunk by chunk (money in cents, so that sums are exact)."""

    def __init__(self):
        self.values = {name: {"count": 0, "min": None, "max": None, "sum": Decimal(0)} for name in RANGE_FIELDS}

    def add(self, name: str, count: int, low, high, total) -> None:
        if not count:
            return
        values = self.values[name]
        values["count"] += count
        values["min"] = low if values["min"] is None else min(values["min"], low)
        values["max"] = high if values["max"] is None else max(values["max"], high)
        if total is not None:
            values["sum"] += Decimal(total)

    def add_numbers(self, numbers: dict[str, np.ndarray], keep: np.ndarray | None = None) -> None:
        """Add lines given as _numbers() gives them (`keep`: which of them)."""
        if keep is not None:
            numbers = {name: values[keep] for name, values in numbers.items()}
        count = len(numbers["timestamp"])
        if not count:
            return
        stamps = numbers["timestamp"]
        self.add("timestamp", count, pd.Timestamp(stamps.min(), unit="us", tz="UTC"),
                 pd.Timestamp(stamps.max(), unit="us", tz="UTC"), None)
        quantity = numbers["quantity"]
        self.add("quantity", count, float(quantity.min()), float(quantity.max()), int(quantity.sum()))
        for name in ("unit_price", "amount"):
            cents = numbers[name]
            self.add(name, count, float(cents.min()) / 100, float(cents.max()) / 100, Decimal(int(cents.sum())) / 100)

    def report(self) -> dict:
        return value_ranges_report({
            name: {"kind": "date" if name == "timestamp" else "number", "count": values["count"],
                   "min": values["min"], "max": values["max"],
                   "mean": values["sum"] / values["count"] if values["count"] and name != "timestamp" else None}
            for name, values in self.values.items()
        })
