"""The per-customer features that segmentation can use, with the help text the pages show.

Transaction features come from the current feature snapshot (customers.analytics defines
them; see the README for how returns and cancellations count). Before the first snapshot,
recency, frequency, monetary, average order value and tenure are aggregated live in SQL,
as of the day after the last transaction, with the nearest SQL equivalent: a purchase
occasion is an invoice with a positive line that is not a cancellation.

A feature is numeric (one float per customer) or categorical (one label per customer, or
none): gender and country from the customer record, and each category custom attribute.
customers.selectors.customer_feature_frame returns categorical features as pandas
"category" columns; the segmentation engine is told which they are through
`SegmentationConfig.categorical` (one-hot encoded, or used natively by k-prototypes).
"""

from dataclasses import dataclass

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)
# How categorical features are used, said in each one's help text.
CATEGORICAL_USE = "categorical: one-hot encoded, or used natively by k-prototypes"


@dataclass(frozen=True)
class FeatureDefinition:
    name: str
    label: str  # the display name pages, charts and segment names use; CSVs and the API keep `name`
    help: str
    unit: str = ""
    needs_transactions: bool = True
    # set for a custom attribute that an import brought (Customer.attributes key)
    attribute_key: str = ""
    # a column of CustomerFeatures: read from the current feature snapshot when there is one
    in_snapshot: bool = False
    # offered only once a snapshot exists (no live SQL version of it)
    snapshot_only: bool = False
    # NUMERIC (a float column) or CATEGORICAL (a pandas "category" column, NaN when missing)
    kind: str = NUMERIC

    @property
    def categorical(self) -> bool:
        return self.kind == CATEGORICAL


FEATURES: dict[str, FeatureDefinition] = {
    f.name: f
    for f in [
        FeatureDefinition("recency", "Days since last order", "Days since the last purchase.", "days", in_snapshot=True),
        FeatureDefinition("frequency", "Orders", "Distinct purchase occasions (invoices).", "purchases", in_snapshot=True),
        FeatureDefinition("monetary", "Net spend", "Net spend: purchases minus returns and cancellations.", "currency",
                          in_snapshot=True),
        FeatureDefinition("avg_order_value", "Average order value", "Net spend per purchase occasion.", "currency",
                          in_snapshot=True),
        FeatureDefinition("tenure", "Days as a customer", "Days since the first purchase.", "days", in_snapshot=True),
        FeatureDefinition("mean_days_between", "Days between orders", "Mean days between purchase occasions "
                          "(needs two).", "days", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("return_rate", "Return rate", "Share of the value of the lines bought that was returned "
                          "or cancelled.", "share", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("distinct_products", "Different products", "Different products bought.", "products",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("distinct_categories", "Different categories", "Different categories bought.", "categories",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("top_category_share", "Share spent in top category", "Share of spend in the customer's biggest "
                          "category (missing when no purchase names a category).", "share",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("p_alive", "Chance still active", "Probability the customer is still buying (BG/NBD); "
                          "missing when the model is not reliable for this data (Features page says why).", "probability",
                          in_snapshot=True, snapshot_only=True),
        FeatureDefinition("expected_purchases", "Expected orders next year", "Purchases expected in the next year (BG/NBD).",
                          "purchases", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("clv", "Predicted lifetime value", "Discounted spend expected over the next year "
                          "(BG/NBD and Gamma-Gamma).", "currency", in_snapshot=True, snapshot_only=True),
        FeatureDefinition("age", "Age", "Age in years, from the customer record.", "years", False),
        FeatureDefinition("annual_income", "Annual income", "Annual income from the customer record.", "currency", False),
        FeatureDefinition("gender", "Gender", f"Gender from the customer record (Female, Male, Other; unknown is "
                          f"missing); {CATEGORICAL_USE}.", needs_transactions=False, kind=CATEGORICAL),
        FeatureDefinition("country", "Country", f"Country from the customer record; {CATEGORICAL_USE}.",
                          needs_transactions=False, kind=CATEGORICAL),
    ]
}
DEFAULT_FEATURES = ("recency", "frequency", "monetary")


def attribute_feature(*, name: str, key: str, kind: str = NUMERIC) -> FeatureDefinition:
    """The feature of a custom attribute: a number attribute is numeric, a category one categorical."""
    if kind == CATEGORICAL:
        help_text = f"Custom attribute “{key}”, a category column brought in by a customers import; {CATEGORICAL_USE}."
    else:
        help_text = f"Custom attribute “{key}”, a number column brought in by a customers import."
    return FeatureDefinition(name, attribute_label(key), help_text, needs_transactions=False, attribute_key=key,
                             kind=kind)


def attribute_label(key: str) -> str:
    """An imported column's name as pages say it: "Spending Score (1-100)" -> "Spending score
    (1-100)", "loyalty_points" -> "Loyalty points"; acronyms ("CLV tier") keep their capitals."""
    words = key.replace("_", " ").split()
    if not words:
        return key
    words = [words[0][:1].upper() + words[0][1:]] + [
        word.lower() if word[:1].isupper() and word[1:].islower() else word for word in words[1:]
    ]
    return " ".join(words)


def categorical_features(names, catalogue: dict[str, FeatureDefinition]) -> tuple[str, ...]:
    """The categorical ones among `names`, in their order: SegmentationConfig.categorical."""
    return tuple(name for name in names if name in catalogue and catalogue[name].categorical)
