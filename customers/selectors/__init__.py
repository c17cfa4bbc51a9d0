"""Reads of customers, by concern:

- customers.py   counts and estimates, ids, search, a customer's transactions
- snapshots.py   feature snapshots: the current one, RFM counts and grid, samples, aggregates
- frames.py      frames for the jobs: the feature frame segmentation reads, transactions in chunks
- imports.py     imports: the list, a finished import's quality report, its rejected rows
- categories.py  category columns as codes while a frame is built

Callers import the names below from `customers.selectors`.
"""

from customers.selectors.customers import (
    EXACT_COUNT_BELOW,
    FEATURE_FETCH_CHUNK,
    all_customer_ids,
    customer_by_external_id,
    customer_count,
    customer_count_estimate,
    customer_count_up_to,
    customer_external_ids,
    customer_id_bounds,
    customer_ids_by_external_id,
    customer_search,
    customer_transactions,
    has_transactions,
    table_size_estimate,
    transaction_count,
    transaction_count_estimate,
)
from customers.selectors.frames import (
    FEATURE_CHUNK_CUSTOMERS,
    MAX_CHANNELS,
    RECORD_FEATURES,
    TRANSACTION_FRAME_COLUMNS,
    customer_feature_frame,
    feature_catalogue,
    feature_labels,
    transaction_channels,
    transaction_frames,
)
from customers.selectors.imports import (
    MOSTLY_EMPTY_SHARE,
    RANGE_LABELS,
    import_list,
    import_quality,
    import_rejected_rows,
)
from customers.selectors.snapshots import (
    EXPLORE_COLUMNS,
    EXPLORE_SAMPLE,
    clv_reliability,
    customer_features_current,
    feature_aggregates,
    feature_as_of,
    feature_sample,
    feature_snapshot_active,
    feature_snapshot_current,
    feature_snapshot_list,
    features_summary_of,
    rfm_distribution,
    rfm_grid,
    rfm_segment_counts,
)

__all__ = [
    "EXACT_COUNT_BELOW",
    "EXPLORE_COLUMNS",
    "EXPLORE_SAMPLE",
    "FEATURE_CHUNK_CUSTOMERS",
    "FEATURE_FETCH_CHUNK",
    "MAX_CHANNELS",
    "MOSTLY_EMPTY_SHARE",
    "RANGE_LABELS",
    "RECORD_FEATURES",
    "TRANSACTION_FRAME_COLUMNS",
    "all_customer_ids",
    "clv_reliability",
    "customer_by_external_id",
    "customer_count",
    "customer_count_estimate",
    "customer_count_up_to",
    "customer_external_ids",
    "customer_feature_frame",
    "customer_features_current",
    "customer_id_bounds",
    "customer_ids_by_external_id",
    "customer_search",
    "customer_transactions",
    "feature_aggregates",
    "feature_as_of",
    "feature_catalogue",
    "feature_labels",
    "feature_sample",
    "feature_snapshot_active",
    "feature_snapshot_current",
    "feature_snapshot_list",
    "features_summary_of",
    "has_transactions",
    "import_list",
    "import_quality",
    "import_rejected_rows",
    "rfm_distribution",
    "rfm_grid",
    "rfm_segment_counts",
    "table_size_estimate",
    "transaction_channels",
    "transaction_count",
    "transaction_count_estimate",
    "transaction_frames",
]
