"""Seeded data with known answers for the engine's tests."""

import numpy as np
import pandas as pd

CENTRES = np.array([(0, 0, 0), (10, 0, 0), (0, 10, 0), (0, 0, 10)], dtype=float)
FEATURES = ("a", "b", "c")


def four_blobs(per_group=250, seed=1, noise=0, sizes=None, gap=4):
    """Four round, well-separated groups in 3-D (sd 0.7, 10 apart), plus `noise` customers
    scattered over the same box but at least `gap` from every group centre. Truth: -1 for noise."""
    rng = np.random.default_rng(seed)
    sizes = sizes or [per_group] * len(CENTRES)
    parts = [rng.normal(centre, 0.7, size=(size, 3)) for centre, size in zip(CENTRES, sizes)]
    truth = [np.full(size, label) for label, size in enumerate(sizes)]
    if noise:
        scattered = []
        while len(scattered) < noise:
            point = rng.uniform(-5, 15, size=3)
            if np.min(np.linalg.norm(CENTRES - point, axis=1)) > gap:
                scattered.append(point)
        parts.append(np.array(scattered))
        truth.append(np.full(noise, -1))
    frame = pd.DataFrame(np.vstack(parts), columns=list(FEATURES))
    frame.index = pd.RangeIndex(1000, 1000 + len(frame), name="customer_id")
    return frame, np.concatenate(truth)
