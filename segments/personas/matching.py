"""How well a new run's segment continues a persona's segment: membership overlap and
centre similarity, combined into one score. No Django here."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Membership overlap says who the persona is; the centres only break ties and guard
# against a coincidental overlap, so overlap carries most of the weight.
JACCARD_WEIGHT = 0.7
CENTROID_WEIGHT = 1 - JACCARD_WEIGHT
# Below this combined score the persona is flagged for review instead of re-linked.
# Hennig's cluster-stability work (fpc::clusterboot) reads a Jaccard below 0.5 as "the
# cluster dissolved". With the weights above and a centre that stays put (similarity
# about 0.95), a segment split into two halves (Jaccard 0.5) scores 0.64 and re-links to
# the better half, one split in three (Jaccard 0.33) scores 0.52 and goes to review;
# an unrelated segment (Jaccard 0.1, orthogonal centre) scores 0.22.
RELINK_THRESHOLD = 0.55


@dataclass(frozen=True)
class Match:
    segment_id: int
    jaccard: float
    centroid_similarity: float | None
    score: float


def jaccard(overlap: int, size_a: int, size_b: int) -> float:
    union = size_a + size_b - overlap
    return overlap / union if union > 0 else 0.0


def centroid_similarity(z_a: dict, z_b: dict) -> float | None:
    """Cosine similarity of two segments' z-score centres over the features both runs
    used, mapped from [-1, 1] to [0, 1]; None when they share no number feature."""
    shared = [name for name in z_a if name in z_b and _finite(z_a[name]) and _finite(z_b[name])]
    if not shared:
        return None
    a = [float(z_a[name]) for name in shared]
    b = [float(z_b[name]) for name in shared]
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        # one centre sits on everyone's mean: same when both do
        return 1.0 if not any(a) and not any(b) else 0.5
    cosine = sum(x * y for x, y in zip(a, b)) / norm
    return (max(-1.0, min(1.0, cosine)) + 1) / 2


def score(jaccard_value: float, centroid: float | None) -> float:
    if centroid is None:
        return jaccard_value
    return JACCARD_WEIGHT * jaccard_value + CENTROID_WEIGHT * centroid


def rank(*, overlaps: dict[int, int], size: int, zscore: dict, candidates: list[dict]) -> list[Match]:
    """Candidates ({id, size, zscore}) best first. overlaps: candidate id -> customers
    shared with the persona's segment (absent: none)."""
    matches = []
    for candidate in candidates:
        j = jaccard(overlaps.get(candidate["id"], 0), size, candidate["size"])
        c = centroid_similarity(zscore, candidate.get("zscore") or {})
        matches.append(Match(candidate["id"], j, c, score(j, c)))
    return sorted(matches, key=lambda m: (-m.score, -m.jaccard, m.segment_id))


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
