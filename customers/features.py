"""The per-customer features that segmentation can use, with the help text the pages show.

Transaction features are computed as of the day after the last transaction in the
database. Returns (negative amounts) reduce monetary; frequency counts distinct invoices
with a positive amount, so a pure return is not a purchase occasion.
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


FEATURES: dict[str, FeatureDefinition] = {
    f.name: f
    for f in [
        FeatureDefinition("recency", "Recency", "Days since the last purchase.", "days"),
        FeatureDefinition("frequency", "Frequency", "Distinct purchase occasions (invoices).", "purchases"),
        FeatureDefinition("monetary", "Monetary", "Net spend: purchases minus returns.", "currency"),
        FeatureDefinition("avg_order_value", "Average order value", "Net spend per purchase occasion.", "currency"),
        FeatureDefinition("tenure", "Tenure", "Days since the first purchase.", "days"),
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
