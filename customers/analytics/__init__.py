"""Customer analytics: per-customer features, RFM scores and CLV models.

Django-free like segments/ml: functions take DataFrames (and a config dataclass where there
are choices) and return DataFrames or result dataclasses. The Django glue (selector ->
DataFrame -> here -> persist) lives in the customers services.
"""
