"""Numeric segmentation code. Imports pandas, numpy and scikit-learn; never Django.

The contract is in types.py; `segment(frame, config, progress=None)` runs it and
`assign(model, frame)` (or `result.model.assign(frame)`) places new customers.
"""

from segments.ml.engine import assign, segment
from segments.ml.model import FittedModel
from segments.ml.preprocess import SKEW_THRESHOLD
from segments.ml.stability import DISSOLVED_JACCARD, UNSTABLE_JACCARD
from segments.ml.types import (
    ALGORITHMS,
    DEFAULT_K_MAX,
    DEFAULT_K_MIN,
    GMM_COVARIANCES,
    K_ALGORITHMS,
    K_RULES,
    LINKAGES,
    MAX_K,
    MIN_K,
    MISSING_STRATEGIES,
    SCALINGS,
    AssignResult,
    ModelSelection,
    ProgressCallback,
    Projection,
    Rule,
    SegmentationConfig,
    SegmentationError,
    SegmentationResult,
    SegmentProfile,
    Stability,
)
from segments.ml.validation import validate_config

__all__ = [
    "ALGORITHMS", "DEFAULT_K_MAX", "DEFAULT_K_MIN", "DISSOLVED_JACCARD", "GMM_COVARIANCES", "K_ALGORITHMS",
    "K_RULES", "LINKAGES", "MAX_K", "MIN_K", "MISSING_STRATEGIES", "SCALINGS", "SKEW_THRESHOLD",
    "UNSTABLE_JACCARD", "AssignResult", "FittedModel", "ModelSelection", "ProgressCallback", "Projection",
    "Rule", "SegmentProfile", "SegmentationConfig", "SegmentationError", "SegmentationResult", "Stability",
    "assign", "segment", "validate_config",
]
