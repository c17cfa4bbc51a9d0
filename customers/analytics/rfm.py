"""RFM scores (1..5) and the eleven named RFM segments.

Scores
------
Only customers with a purchase (frequency > 0) are scored; the others get no scores (<NA>),
no code and the segment "No purchases". Among the n scored customers, a value's score is

    score = 1 + floor(5 * below / n)

where `below` is how many scored customers have a strictly *worse* value (a larger recency;
a smaller frequency or monetary). This is pandas' rank(method="min") mapped to quintiles:
a score says "better than at least 0%, 20%, 40%, 60%, 80% of customers", so

* equal values always get equal scores, also when a tie straddles a quintile boundary: the
  whole tie takes the score of the position where it starts;
* a large tie leaves scores unused: when 60% of customers bought once, they all get F 1 and
  the next frequency starts at 60%, so F 4; F 2 and 3 go to nobody. That is deliberate: a
  score never separates customers whose values are the same, and never promotes a customer
  whom 80% of the others equal or beat.

Segments
--------
`RFM_SEGMENTS` is the rule table (first match wins, in its order), evaluated vectorised. The
names are the widely used eleven; the ranges follow the common R x F grid, with M deciding
between Champions and Loyal, and between Can't Lose Them and At Risk, and Lost being the
lowest corner of Hibernating. Every one of the 125 codes matches a rule (tests check it).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

QUINTILES = 5
NO_PURCHASES = "No purchases"


@dataclass(frozen=True)
class RFMSegment:
    name: str
    r: tuple[int, int]  # inclusive score ranges
    f: tuple[int, int]
    m: tuple[int, int]
    description: str
    action: str

    @property
    def rule(self) -> str:
        """The ranges in words, e.g. "R 4-5, F 4-5, M 4-5" (a range of 1-5 is left out)."""
        parts = []
        for letter, (low, high) in (("R", self.r), ("F", self.f), ("M", self.m)):
            if (low, high) != (1, QUINTILES):
                parts.append(f"{letter} {low}" if low == high else f"{letter} {low}-{high}")
        return ", ".join(parts) or "any"

    def matches(self, r, f, m):
        return (
            (r >= self.r[0]) & (r <= self.r[1])
            & (f >= self.f[0]) & (f <= self.f[1])
            & (m >= self.m[0]) & (m <= self.m[1])
        )


ANY = (1, QUINTILES)
RFM_SEGMENTS: list[RFMSegment] = [
    RFMSegment("Champions", (4, 5), (4, 5), (4, 5),
               "Bought recently, buy often and spend the most.",
               "Reward them; early access to new products; ask for reviews."),
    RFMSegment("Loyal", (3, 5), (4, 5), ANY,
               "Buy often and not long ago.",
               "Upsell higher-value products; loyalty programme."),
    RFMSegment("Potential Loyalist", (4, 5), (2, 3), ANY,
               "Recent customers with a few purchases.",
               "Membership or loyalty offer; recommend related products."),
    RFMSegment("New Customers", (5, 5), (1, 1), ANY,
               "Bought most recently, once.",
               "Onboarding; make the second purchase easy."),
    RFMSegment("Promising", (4, 4), (1, 1), ANY,
               "Bought recently, once.",
               "Build awareness; a free trial or a small offer."),
    RFMSegment("Need Attention", (3, 3), (3, 3), ANY,
               "Middling recency and frequency.",
               "Limited-time offers based on their past purchases."),
    RFMSegment("About to Sleep", (3, 3), (1, 2), ANY,
               "Middling recency, few purchases.",
               "Share popular products; reconnect before they lapse."),
    RFMSegment("Can't Lose Them", (1, 2), (4, 5), (4, 5),
               "Used to buy often and spend a lot, but not for a long time.",
               "Win them back personally; do not lose them to a competitor."),
    RFMSegment("At Risk", (1, 2), (3, 5), ANY,
               "Bought often, but long ago.",
               "Personalised reactivation emails; renewals; helpful resources."),
    RFMSegment("Lost", (1, 1), (1, 2), (1, 2),
               "Longest ago, fewest purchases, lowest spend.",
               "Revive interest with a reach-out campaign, or let go."),
    RFMSegment("Hibernating", (1, 2), (1, 2), ANY,
               "Bought little, and long ago.",
               "Offer relevant products and special discounts."),
]


def quintile_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """1 + floor(5 * below / n), `below` = values strictly worse; see the module docstring."""
    n = len(values)
    if n == 0:
        return pd.Series(dtype="Int64", index=values.index)
    # rank "min" with ascending order counts the strictly smaller values (plus one)
    ranks = values.rank(method="min", ascending=higher_is_better)
    below = ranks.to_numpy() - 1
    return pd.Series(1 + np.floor(QUINTILES * below / n).astype(np.int64), index=values.index, dtype="Int64")


def rfm_scores(frame: pd.DataFrame, *, segments: list[RFMSegment] = RFM_SEGMENTS) -> pd.DataFrame:
    """Scores, code and segment for each row of `frame` (columns recency, frequency,
    monetary, as customer_features makes them), same index.

    Columns: r_score, f_score, m_score (Int64, <NA> without a purchase), rfm_code (str
    such as "545", <NA> without a purchase), rfm_segment (str, "No purchases" without one).
    """
    scored = (frame["frequency"] > 0) & frame["recency"].notna() & frame["monetary"].notna()
    rows = frame.loc[scored]
    result = pd.DataFrame(index=frame.index)
    for column, source, higher_is_better in (
        ("r_score", "recency", False), ("f_score", "frequency", True), ("m_score", "monetary", True),
    ):
        result[column] = quintile_scores(rows[source], higher_is_better=higher_is_better).reindex(frame.index)

    r, f, m = (result[c].to_numpy(dtype="float64", na_value=np.nan) for c in ("r_score", "f_score", "m_score"))
    code = result["r_score"].astype("str") + result["f_score"].astype("str") + result["m_score"].astype("str")
    result["rfm_code"] = code.where(scored, pd.NA).astype("str")
    names = np.select([s.matches(r, f, m) for s in segments], [s.name for s in segments], default="")
    result["rfm_segment"] = pd.Series(np.where(scored.to_numpy(), names, NO_PURCHASES), index=frame.index, dtype="str")
    return result
