"""Numeric segmentation code. Imports pandas, numpy and scikit-learn; never Django."""

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
