"""Segment names a marketer would use: "Recent buyers", "Lapsed big spenders", "Young high earners".

A segment is named after the one or two features that set it apart most (its mean against
everyone's, in standard deviations). Each known feature has a phrase per direction, as an
adjective ("Lapsed", "Young") and, for some, a noun ("big spenders", "high earners"). A name
is the adjectives of the traits followed by one noun: the noun of the most distinguishing
trait that has one, else the trait's own fallback ("buyers", "customers"). A feature with no
phrase (an imported attribute, say) is said with its display name: "... with high spending
score (1-100)".

No Django: the display names come in as a dict (customers.features' labels).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrase:
    adjective: str
    noun: str = ""  # set when the trait reads better as what the customers are
    fallback_noun: str = "customers"  # the noun when no trait of the name brings one


# feature -> (phrase when above everyone's mean, phrase when below)
PHRASES: dict[str, tuple[Phrase, Phrase]] = {
    "recency": (Phrase("lapsed"), Phrase("recent", fallback_noun="buyers")),
    "frequency": (Phrase("frequent", fallback_noun="buyers"), Phrase("occasional", fallback_noun="buyers")),
    "monetary": (Phrase("big-spending", "big spenders"), Phrase("low-spending", "light spenders")),
    "avg_order_value": (Phrase("big-basket", fallback_noun="buyers"), Phrase("small-basket", fallback_noun="buyers")),
    "tenure": (Phrase("long-standing"), Phrase("new")),
    "mean_days_between": (Phrase("slow-returning", fallback_noun="buyers"),
                          Phrase("quick-returning", fallback_noun="buyers")),
    "return_rate": (Phrase("often-returning", "frequent returners"), Phrase("rarely-returning")),
    "distinct_products": (Phrase("wide-range", fallback_noun="buyers"), Phrase("few-product", fallback_noun="buyers")),
    "distinct_categories": (Phrase("cross-category", fallback_noun="buyers"),
                            Phrase("single-category", fallback_noun="buyers")),
    "top_category_share": (Phrase("category-loyal", fallback_noun="buyers"),
                           Phrase("cross-category", fallback_noun="buyers")),
    "p_alive": (Phrase("active"), Phrase("likely lost")),
    "expected_purchases": (Phrase("returning", fallback_noun="buyers"), Phrase("dormant")),
    "clv": (Phrase("high-value"), Phrase("low-value")),
    "age": (Phrase("older"), Phrase("young")),
    "annual_income": (Phrase("high-income", "high earners"), Phrase("lower-income")),
}
TYPICAL = "Typical customers"


def plain_label(label: str) -> str:
    """A display name inside a sentence: "Spending score (1-100)" reads "spending score
    (1-100)"; "P(alive)", "RFM" and "CLV" keep their capitals."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def phrase_for(feature: str, z: float) -> Phrase | None:
    pair = PHRASES.get(feature)
    return None if pair is None else pair[0 if z > 0 else 1]


def segment_name(traits: list[tuple[str, float]], labels: dict[str, str]) -> str:
    """A name from traits [(feature, z), ...], most distinguishing first:
    [("monetary", 1.2), ("recency", 0.9)] -> "Lapsed big spenders"."""
    if not traits:
        return TYPICAL
    phrased = [(feature, phrase_for(feature, z)) for feature, z in traits]
    known = [(feature, phrase) for feature, phrase in phrased if phrase is not None]
    others = [f"{'high' if z > 0 else 'low'} {plain_label(labels.get(feature, feature))}"
              for (feature, z), (_, phrase) in zip(traits, phrased) if phrase is None]
    if not known:
        name = ", ".join(others)
    else:
        head = next((phrase for _, phrase in known if phrase.noun), None)
        adjectives = [phrase.adjective for _, phrase in known if phrase is not head]
        noun = head.noun if head is not None else known[0][1].fallback_noun
        name = " ".join(adjectives + [noun])
        if others:
            name += " with " + " and ".join(others)
    return name[:1].upper() + name[1:]


def category_name(feature: str, value: str, labels: dict[str, str]) -> str:
    """A segment set apart by one category value: "Mostly female customers", "Mostly customers
    in France", "Mostly tier Gold"."""
    if feature == "gender":
        return f"Mostly {value.lower()} customers"
    if feature == "country":
        return f"Mostly customers in {value}"
    return f"Mostly {plain_label(labels.get(feature, feature))} {value}"
