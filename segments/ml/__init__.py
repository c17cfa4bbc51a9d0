"""Numeric segmentation code. Imports pandas, numpy and scikit-learn; never Django."""

from segments.ml.types import (
    DEFAULT_K_MAX, DEFAULT_K_MIN, GMM_COVARIANCES, K_ALGORITHMS, K_RULES, LINKAGES, SCALINGS,
)
from segments.ml.engine import (
    ALGORITHMS,
    MAX_K,
    MIN_K,
    Projection,
    SegmentationConfig,
    SegmentationError,
    SegmentationResult,
    SegmentProfile,
    segment,
)

__all__ = [
    "ALGORITHMS",
    "MAX_K",
    "MIN_K",
    "Projection",
    "SegmentProfile",
    "SegmentationConfig",
    "SegmentationError",
    "SegmentationResult",
    "segment",
]
