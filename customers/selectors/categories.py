"""Category columns as integer codes while a frame is built, and as pandas categories after."""

from __future__ import annotations

import numpy as np
import pandas as pd

from customers.models import Customer

# Gender as stored (F/M/O) shown as its label; "" (unknown) is missing.
GENDER_LABELS = {value: str(label) for value, label in Customer.Gender.choices if value}


class CategoryCodes:
    """The labels of one categorical column as int32 codes shared by every chunk (-1:
    missing), so a million customers' countries cost 4 bytes each, not a string each."""

    def __init__(self, labels: dict[str, str] | None = None):
        self.labels = labels or {}  # stored value -> label shown
        self.codes: dict[str, int] = {}

    def encode(self, values: pd.Series) -> np.ndarray:
        chunk_codes, uniques = pd.factorize(values)  # None -> -1
        # one Python step per distinct value of the chunk, not per customer
        lookup = np.full(len(uniques) + 1, -1, dtype=np.int32)  # the last entry serves -1
        for position, value in enumerate(uniques):
            label = str(self.labels.get(value, value)).strip()
            if label:
                lookup[position] = self.codes.setdefault(label, len(self.codes))
        return lookup[chunk_codes]

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        categories = list(self.codes)
        values = pd.Categorical.from_codes(codes, categories=categories)
        return values.reorder_categories(sorted(categories))
