"""The per-customer features that segmentation can use, with the help text the pages show.

Transaction features come from the current feature snapshot (customers.analytics defines
them; see the README for how returns and cancellations count). Before the first snapshot,
recency, frequency, monetary, average order value and tenure are aggregated live in SQL,
as of the day after the last transaction, with the nearest SQL equivalent: a purchase
occasion is an invoice with a positive line that is not a cancellation.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureDefinition:
    name: str
    label: str
    help: str
    unit: str = ""
    needs_transactions: bool = True
    # set for a number custom attribute that an import brought (Customer.attributes key)
    attribute_key: str = ""
    # a column of CustomerFeatures: read from the current feature snapshot when there is one
    in_snapshot: bool = False
    # offered only once a snapshot exists (no live SQL version of it)
    snapshot_only: bool = False


FEATURES: dict[str, FeatureDefinition] = {
    f.name: f
    for f in [
        FeatureDefinition("recency", "Recency", "Days since the last purchase.", "days", in_snapshot=True),
        FeatureDefinition("frequency", "Frequency", "Distinct purchase occasions (invoices).", "purchases", in_snapshot=True),
        FeatureDefinition("monetary", "Monetary", "Net spend: purchases minus returns and cancellations.", "currency",
                          in_snapshot=True),
        FeatureDefinition("avg_order_value", "Average order value", "Net spend per purchase occasion.", "currency",
                          in_snapshot=True),
        FeatureDefinition("tenure", "Tenure", "Days since the first purchase.", "days", in_snapshot=True),
        FeatureDefinition("mean_days_between", "Days between purchases", "Mean days between purchase occasions "
                          "(needs two).", "days", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("return_rate", "Return rate", "Share of the value of the lines bought that was returned "
                          "or cancelled.", "share", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("distinct_products", "Distinct products", "Different products bought.", "products",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("distinct_categories", "Distinct categories", "Different categories bought.", "categories",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("top_category_share", "Top category share", "Share of spend in the customer's biggest "
                          "category.", "share", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("p_alive", "P(alive)", "Probability the customer is still buying (BG/NBD).", "probability",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("expected_purchases", "Expected purchases", "Purchases expected in the next year (BG/NBD).",
                          "purchases", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("clv", "Predicted lifetime value", "Discounted spend expected over the next year "
                          "(BG/NBD and Gamma-Gamma).", "currency", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("age", "Age", "Age in years, from the customer record.", "years", False),
        FeatureDefinition("annual_income", "Annual income", "Annual income from the customer record.", "currency", False),
    ]
}
DEFAULT_FEATURES = ("recency", "frequency", "monetary")


def attribute_feature(*, name: str, key: str) -> FeatureDefinition:
    return FeatureDefinition(
        name, key, f"Custom attribute “{key}”, a number column brought in by a customers import.",
        needs_transactions=False, attribute_key=key,
    )
