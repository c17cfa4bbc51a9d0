"""Synthetic demo customers and a year of their transactions, drawn from planted groups.

Pure numpy/pandas (no Django), so it is tested without a database and the demo_data
service only has to insert what it yields. Each planted group differs in recency,
frequency and monetary value, so a k-means on RFM features finds them again.

Everything is generated chunk by chunk, vectorised within a chunk: memory stays flat
however many customers are asked for. A chunk's random stream depends only on
(seed, chunk index), so the same (n_customers, seed, end_date, chunk_size) always gives
the same data, and a larger dataset with the same seed and chunk size repeats the
smaller one's full chunks.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

# "C" + 8 digits: string order equals numeric order up to 99,999,999 customers, which
# leaves room above the 10 million the service accepts.
EXTERNAL_ID_DIGITS = 8
MAX_CUSTOMERS = 10**EXTERNAL_ID_DIGITS - 1
# Invoices are numbered per customer (INV<customer number>-<seq>), which makes them
# unique across chunks without knowing how many invoices earlier chunks had.
INVOICE_SEQ_DIGITS = 3
MAX_INVOICES_PER_CUSTOMER = 10**INVOICE_SEQ_DIGITS - 1

# The dataset covers the 365 days ending with end_date (end_date included).
WINDOW_DAYS = 365
SECONDS_PER_DAY = 86_400

AGE_MIN, AGE_MAX = 18, 80
INCOME_MIN, INCOME_MAX = 15_000.0, 150_000.0
# Spread of each customer's own purchase rate around the group's: gamma with shape 6 has
# a coefficient of variation of 0.4, so frequencies overlap between neighbouring groups
# the way real ones do instead of forming spikes.
PURCHASE_RATE_GAMMA_SHAPE = 6.0
# Line items per invoice: most baskets hold one line, some two or three (mean 1.25).
LINES_PER_INVOICE_P = (0.80, 0.15, 0.05)
# Share of lines that are returns (negative quantity), as in typical retail data.
RETURN_SHARE = 0.03
# Time of day of a purchase: around early afternoon, within shop/app waking hours.
TIME_OF_DAY_MEAN_HOURS, TIME_OF_DAY_SD_HOURS = 14.0, 3.5
TIME_OF_DAY_MIN_HOURS, TIME_OF_DAY_MAX_HOURS = 7.0, 23.0
MIN_UNIT_PRICE = 0.5

GENDERS = ("F", "M", "O")
GENDER_P = (0.50, 0.47, 0.03)
CHANNELS = ("online", "store", "mobile")
CATEGORIES = ("Home", "Fashion", "Electronics", "Beauty", "Grocery", "Toys")

# Products per category as (name, typical unit price); a line gets the product whose
# typical price is closest to its unit price, so product and price agree.
CATALOGUE: dict[str, tuple[tuple[str, float], ...]] = {
    "Home": (
        ("Tea towel set", 6.0), ("Scented candle", 12.0), ("Cushion cover", 18.0),
        ("Table lamp", 45.0), ("Bed linen set", 80.0), ("Armchair", 320.0),
    ),
    "Fashion": (
        ("Socks 3-pack", 8.0), ("T-shirt", 15.0), ("Jeans", 45.0),
        ("Trainers", 80.0), ("Winter coat", 160.0), ("Leather bag", 300.0),
    ),
    "Electronics": (
        ("USB cable", 9.0), ("Phone case", 20.0), ("Headphones", 60.0),
        ("Smart speaker", 110.0), ("Tablet", 350.0), ("Laptop", 900.0),
    ),
    "Beauty": (
        ("Lip balm", 4.0), ("Shampoo", 8.0), ("Face cream", 22.0),
        ("Perfume", 60.0), ("Hair dryer", 90.0), ("Gift set", 140.0),
    ),
    "Grocery": (
        ("Bread", 2.0), ("Coffee beans", 7.0), ("Olive oil", 11.0),
        ("Cheese selection", 18.0), ("Wine", 25.0), ("Hamper", 70.0),
    ),
    "Toys": (
        ("Puzzle", 10.0), ("Plush toy", 16.0), ("Board game", 30.0),
        ("Building set", 55.0), ("Ride-on car", 120.0), ("Games console", 300.0),
    ),
}

COUNTRIES: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = (
    ("United Kingdom", 0.30, (("London", 0.45), ("Manchester", 0.2), ("Birmingham", 0.15),
                              ("Glasgow", 0.1), ("Bristol", 0.1))),
    ("Germany", 0.20, (("Berlin", 0.35), ("Hamburg", 0.25), ("Munich", 0.25), ("Cologne", 0.15))),
    ("France", 0.15, (("Paris", 0.5), ("Lyon", 0.2), ("Marseille", 0.15), ("Toulouse", 0.15))),
    ("United States", 0.10, (("New York", 0.4), ("Chicago", 0.25), ("Los Angeles", 0.2),
                             ("Austin", 0.15))),
    ("Netherlands", 0.10, (("Amsterdam", 0.5), ("Rotterdam", 0.3), ("Utrecht", 0.2))),
    ("Spain", 0.10, (("Madrid", 0.45), ("Barcelona", 0.4), ("Valencia", 0.15))),
    ("Ireland", 0.05, (("Dublin", 0.7), ("Cork", 0.3))),
)

FIRST_NAMES_F = (
    "Olivia", "Emma", "Sophie", "Amelia", "Isla", "Mia", "Hannah", "Lea", "Chloe", "Lucia",
    "Sara", "Anna", "Julia", "Grace", "Laura", "Nora", "Ella", "Maria", "Eva", "Zoe",
)
FIRST_NAMES_M = (
    "Oliver", "Noah", "Liam", "Lucas", "Leon", "Hugo", "Daniel", "Finn", "Jack", "Mateo",
    "Paul", "Thomas", "James", "Ben", "Louis", "David", "Max", "Adam", "Sam", "Elias",
)
LAST_NAMES = (
    "Smith", "Jones", "Brown", "Taylor", "Wilson", "Müller", "Schmidt", "Schneider",
    "Fischer", "Weber", "Martin", "Bernard", "Dubois", "Durand", "Moreau", "de Jong",
    "Jansen", "Visser", "García", "Fernández", "López", "Murphy", "Kelly", "O'Brien",
    "Johnson", "Miller", "Davis", "Walsh", "Novak", "Rossi",
)


@dataclass(frozen=True)
class DemoGroup:
    """One planted behavioural group. Days are counted back from end_date (0 = end_date)."""

    name: str
    share: float  # of all customers
    age_mean: float
    age_sd: float
    income_median: float  # lognormal annual income
    income_sigma: float
    purchases_per_year: float  # mean rate while the customer is active
    min_purchases: int
    max_purchases: int
    order_value_median: float  # lognormal value of one invoice
    order_value_sigma: float
    signup_days_ago: tuple[int, int]  # uniform, inclusive
    # The customer's last possible purchase day; lapsed customers stop long before the end.
    stop_days_ago: tuple[int, int]
    channel_p: tuple[float, float, float]  # over CHANNELS
    category_p: tuple[float, float, float, float, float, float]  # over CATEGORIES


DEMO_GROUPS: tuple[DemoGroup, ...] = (
    DemoGroup(
        name="Champions", share=0.15, age_mean=41, age_sd=10,
        income_median=68_000, income_sigma=0.3,
        purchases_per_year=22, min_purchases=4, max_purchases=200,
        order_value_median=100, order_value_sigma=0.45,
        signup_days_ago=(400, 3_000), stop_days_ago=(0, 5),
        channel_p=(0.45, 0.20, 0.35), category_p=(0.2, 0.25, 0.25, 0.15, 0.1, 0.05),
    ),
    DemoGroup(
        name="Bargain regulars", share=0.30, age_mean=54, age_sd=14,
        income_median=36_000, income_sigma=0.35,
        purchases_per_year=12, min_purchases=2, max_purchases=150,
        order_value_median=18, order_value_sigma=0.45,
        signup_days_ago=(200, 3_000), stop_days_ago=(0, 14),
        channel_p=(0.25, 0.60, 0.15), category_p=(0.2, 0.1, 0.05, 0.15, 0.45, 0.05),
    ),
    DemoGroup(
        name="Big occasional spenders", share=0.20, age_mean=47, age_sd=11,
        income_median=82_000, income_sigma=0.3,
        # min 0: a few of them bought nothing this year, the dataset's zero-purchase
        # customers (about 2-3% of all).
        purchases_per_year=3, min_purchases=0, max_purchases=12,
        order_value_median=380, order_value_sigma=0.45,
        signup_days_ago=(365, 3_000), stop_days_ago=(0, 90),
        channel_p=(0.55, 0.35, 0.10), category_p=(0.3, 0.2, 0.35, 0.05, 0.0, 0.1),
    ),
    DemoGroup(
        name="Lapsed", share=0.20, age_mean=37, age_sd=13,
        income_median=45_000, income_sigma=0.45,
        purchases_per_year=9, min_purchases=1, max_purchases=60,
        order_value_median=40, order_value_sigma=0.55,
        signup_days_ago=(365, 2_500), stop_days_ago=(150, 300),
        channel_p=(0.40, 0.30, 0.30), category_p=(0.15, 0.3, 0.15, 0.15, 0.15, 0.1),
    ),
    DemoGroup(
        name="New customers", share=0.15, age_mean=29, age_sd=8,
        income_median=40_000, income_sigma=0.4,
        purchases_per_year=9, min_purchases=1, max_purchases=3,
        order_value_median=55, order_value_sigma=0.5,
        signup_days_ago=(0, 60), stop_days_ago=(0, 0),
        channel_p=(0.35, 0.10, 0.55), category_p=(0.1, 0.35, 0.1, 0.25, 0.05, 0.15),
    ),
)


@dataclass(frozen=True)
class DemoChunk:
    customers: pd.DataFrame
    transactions: pd.DataFrame


CUSTOMER_COLUMNS = (
    "external_id", "name", "email", "gender", "age", "birth_year", "annual_income",
    "country", "city", "signup_date", "attributes",
)
TRANSACTION_COLUMNS = (
    "customer_external_id", "invoice_id", "timestamp", "quantity", "unit_price", "amount",
    "product", "category", "channel",
)


def external_id_for(number: int) -> str:
    """The external id of the customer numbered `number` (1-based)."""
    return f"C{number:0{EXTERNAL_ID_DIGITS}d}"


def generate_demo_chunks(
    *,
    n_customers: int,
    seed: int,
    end_date: datetime.date,
    chunk_size: int = 20_000,
    groups: tuple[DemoGroup, ...] = DEMO_GROUPS,
) -> Iterator[DemoChunk]:
    """Yield the demo dataset in chunks of at most `chunk_size` customers.

    Customers are numbered 1..n_customers in order (external ids C00000001, ...); every
    transaction falls within the 365 days ending with end_date and on or after its
    customer's signup date.
    """
    if not 1 <= n_customers <= MAX_CUSTOMERS:
        raise ValueError(f"n_customers must be between 1 and {MAX_CUSTOMERS:,}")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if seed < 0:
        raise ValueError("seed must not be negative")
    shares = np.array([group.share for group in groups], dtype=float)
    if not np.isclose(shares.sum(), 1.0):
        raise ValueError("group shares must add up to 1")
    for chunk_index, first in enumerate(range(1, n_customers + 1, chunk_size)):
        last = min(first + chunk_size - 1, n_customers)
        # The chunk_index-th child of SeedSequence(seed).spawn(), built directly.
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk_index,)))
        yield _chunk(rng=rng, first=first, last=last, end_date=end_date, groups=groups)


def _chunk(
    *, rng: np.random.Generator, first: int, last: int, end_date: datetime.date,
    groups: tuple[DemoGroup, ...],
) -> DemoChunk:
    n = last - first + 1
    numbers = np.arange(first, last + 1, dtype=np.int64)
    group_idx = _assign_groups(rng, n, np.array([g.share for g in groups]))

    def per_group(attribute: str) -> np.ndarray:
        return np.array([getattr(g, attribute) for g in groups], dtype=float)[group_idx]

    customers, signup_days_ago = _customers(
        rng=rng, numbers=numbers, group_idx=group_idx, groups=groups,
        end_date=end_date, per_group=per_group,
    )

    # Active window per customer, in days since the window's first day (day 0 .. 364).
    first_day = np.maximum(0, (WINDOW_DAYS - 1) - signup_days_ago)
    stop_lo = _per_group_tuple(groups, group_idx, "stop_days_ago", 0)
    stop_hi = _per_group_tuple(groups, group_idx, "stop_days_ago", 1)
    stop_days_ago = rng.integers(stop_lo, stop_hi + 1)
    end_day = np.maximum(WINDOW_DAYS - stop_days_ago, first_day + 1)  # exclusive
    active_years = (end_day - first_day) / WINDOW_DAYS

    rate = per_group("purchases_per_year") * active_years
    rate = rate * rng.gamma(PURCHASE_RATE_GAMMA_SHAPE, 1 / PURCHASE_RATE_GAMMA_SHAPE, size=n)
    invoices_per_customer = np.clip(
        rng.poisson(rate), per_group("min_purchases"),
        np.minimum(per_group("max_purchases"), MAX_INVOICES_PER_CUSTOMER),
    ).astype(np.int64)

    transactions = _transactions(
        rng=rng, numbers=numbers, external_ids=customers["external_id"].to_numpy(object),
        group_idx=group_idx, groups=groups, end_date=end_date,
        invoices_per_customer=invoices_per_customer, first_day=first_day, end_day=end_day,
    )
    return DemoChunk(customers=customers, transactions=transactions)


def _per_group_tuple(
    groups: tuple[DemoGroup, ...], group_idx: np.ndarray, attribute: str, position: int
) -> np.ndarray:
    return np.array([getattr(g, attribute)[position] for g in groups], dtype=np.int64)[group_idx]


def _assign_groups(rng: np.random.Generator, n: int, shares: np.ndarray) -> np.ndarray:
    # Exact shares per chunk (largest remainder), shuffled: even a 50-customer demo has
    # every group, and group sizes do not wobble between seeds.
    exact = shares * n
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))


def _customers(
    *, rng: np.random.Generator, numbers: np.ndarray, group_idx: np.ndarray,
    groups: tuple[DemoGroup, ...], end_date: datetime.date,
    per_group: Callable[[str], np.ndarray],
) -> tuple[pd.DataFrame, np.ndarray]:
    n = len(numbers)
    external_ids = _fixed_width_strings(n, "C", (numbers, EXTERNAL_ID_DIGITS))

    gender = np.array(GENDERS)[rng.choice(len(GENDERS), size=n, p=GENDER_P)]
    first_f = np.array(FIRST_NAMES_F, dtype=object)[rng.integers(len(FIRST_NAMES_F), size=n)]
    first_m = np.array(FIRST_NAMES_M, dtype=object)[rng.integers(len(FIRST_NAMES_M), size=n)]
    other_takes_f = rng.random(n) < 0.5
    first = np.where((gender == "F") | ((gender == "O") & other_takes_f), first_f, first_m)
    last_names = np.array(LAST_NAMES, dtype=object)[rng.integers(len(LAST_NAMES), size=n)]

    age = np.clip(
        np.rint(rng.normal(per_group("age_mean"), per_group("age_sd"))), AGE_MIN, AGE_MAX
    ).astype(np.int64)
    # Birthdays still to come this year make the birth year one earlier.
    birthday_doy = rng.integers(1, 366, size=n)
    birth_year = end_date.year - age - (birthday_doy > end_date.timetuple().tm_yday)

    # Earnings peak in mid-career: up to +20% at 50, less towards 18 and 80.
    career = 1 + 0.2 * (1 - ((age - 50) / 32.0) ** 2)
    income = per_group("income_median") * career * np.exp(
        per_group("income_sigma") * rng.standard_normal(n)
    )
    income = np.round(np.clip(income, INCOME_MIN, INCOME_MAX), 2)

    country_idx = rng.choice(len(COUNTRIES), size=n, p=[c[1] for c in COUNTRIES])
    city = np.empty(n, dtype=object)
    for i, (_, _, cities) in enumerate(COUNTRIES):
        mask = country_idx == i
        names = np.array([c[0] for c in cities], dtype=object)
        weights = [c[1] for c in cities]
        city[mask] = names[rng.choice(len(cities), size=int(mask.sum()), p=weights)]

    signup_lo = _per_group_tuple(groups, group_idx, "signup_days_ago", 0)
    signup_hi = _per_group_tuple(groups, group_idx, "signup_days_ago", 1)
    signup_days_ago = rng.integers(signup_lo, signup_hi + 1)
    signup = (np.datetime64(end_date, "D") - signup_days_ago).astype(object)  # datetime.date

    group_names = [g.name for g in groups]
    frame = pd.DataFrame(
        {
            "external_id": external_ids,
            "name": first + " " + last_names,
            "email": [f"customer{number}@example.com" for number in numbers.tolist()],
            "gender": gender,
            "age": age,
            "birth_year": birth_year.astype(np.int64),
            "annual_income": income,
            "country": np.array([c[0] for c in COUNTRIES], dtype=object)[country_idx],
            "city": city,
            "signup_date": signup,
            "attributes": [{"demo_group": group_names[i]} for i in group_idx],
        }
    )
    return frame, signup_days_ago


def _transactions(
    *, rng: np.random.Generator, numbers: np.ndarray, external_ids: np.ndarray,
    group_idx: np.ndarray, groups: tuple[DemoGroup, ...], end_date: datetime.date,
    invoices_per_customer: np.ndarray, first_day: np.ndarray, end_day: np.ndarray,
) -> pd.DataFrame:
    n_invoices = int(invoices_per_customer.sum())
    owner = np.repeat(np.arange(len(numbers)), invoices_per_customer)  # customer row per invoice
    owner_group = group_idx[owner]

    day = first_day[owner] + np.floor(
        rng.random(n_invoices) * (end_day[owner] - first_day[owner])
    ).astype(np.int64)
    hours = np.clip(
        rng.normal(TIME_OF_DAY_MEAN_HOURS, TIME_OF_DAY_SD_HOURS, n_invoices),
        TIME_OF_DAY_MIN_HOURS, TIME_OF_DAY_MAX_HOURS - 1 / 3600,
    )
    seconds = day * SECONDS_PER_DAY + np.floor(hours * 3600).astype(np.int64)
    # Number each customer's invoices in time order.
    order = np.lexsort((seconds, owner))
    owner, owner_group, seconds = owner[order], owner_group[order], seconds[order]
    starts = np.cumsum(invoices_per_customer) - invoices_per_customer
    seq = np.arange(n_invoices) - np.repeat(starts, invoices_per_customer) + 1

    channel_idx = _choice_by_group(rng, owner_group, [g.channel_p for g in groups])
    value_median = np.array([g.order_value_median for g in groups])[owner_group]
    value_sigma = np.array([g.order_value_sigma for g in groups])[owner_group]
    order_value = value_median * np.exp(value_sigma * rng.standard_normal(n_invoices))

    # Expand invoices to lines and split each invoice's value over its lines.
    lines_per_invoice = rng.choice(
        np.arange(1, len(LINES_PER_INVOICE_P) + 1), size=n_invoices, p=LINES_PER_INVOICE_P
    )
    line_invoice = np.repeat(np.arange(n_invoices), lines_per_invoice)
    n_lines = len(line_invoice)
    weight = rng.random(n_lines) + 0.2
    weight = weight / np.bincount(line_invoice, weights=weight, minlength=n_invoices)[line_invoice]
    line_value = order_value[line_invoice] * weight

    line_group = owner_group[line_invoice]
    category_idx = _choice_by_group(rng, line_group, [g.category_p for g in groups])
    # Cheap lines come in multiples (three loaves of bread), dear ones singly.
    quantity = 1 + rng.poisson(np.clip(8.0 / line_value, 0.0, 4.0))
    unit_price = np.maximum(np.round(line_value / quantity, 2), MIN_UNIT_PRICE)
    quantity = np.where(rng.random(n_lines) < RETURN_SHARE, -quantity, quantity)
    amount = np.round(quantity * unit_price, 2)
    product = _products(category_idx, unit_price)

    window_start = pd.Timestamp(end_date, tz="UTC") - pd.Timedelta(days=WINDOW_DAYS - 1)
    invoice_ids = _fixed_width_strings(
        n_invoices, "INV", (numbers[owner], EXTERNAL_ID_DIGITS), "-", (seq, INVOICE_SEQ_DIGITS)
    )
    return pd.DataFrame(
        {
            "customer_external_id": external_ids[owner[line_invoice]],
            "invoice_id": invoice_ids[line_invoice],
            "timestamp": window_start + pd.to_timedelta(seconds[line_invoice], unit="s"),
            "quantity": quantity.astype(np.int64),
            "unit_price": unit_price,
            "amount": amount,
            "product": product,
            "category": np.array(CATEGORIES, dtype=object)[category_idx],
            "channel": np.array(CHANNELS, dtype=object)[channel_idx[line_invoice]],
        }
    )


def _choice_by_group(
    rng: np.random.Generator, group_of_row: np.ndarray,
    probabilities: list[tuple[float, ...]],
) -> np.ndarray:
    """For each row, an index drawn from its group's probability vector (inverse CDF)."""
    cumulative = np.cumsum(np.asarray(probabilities, dtype=float), axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding leaving a gap at the top
    draws = rng.random(len(group_of_row))
    return (draws[:, None] >= cumulative[group_of_row]).sum(axis=1)


def _products(category_idx: np.ndarray, unit_price: np.ndarray) -> np.ndarray:
    product = np.empty(len(category_idx), dtype=object)
    for i, category in enumerate(CATEGORIES):
        mask = category_idx == i
        items = CATALOGUE[category]
        names = np.array([name for name, _ in items], dtype=object)
        log_prices = np.log([price for _, price in items])
        # Nearest typical price on a log scale: boundaries halfway between neighbours.
        boundaries = (log_prices[1:] + log_prices[:-1]) / 2
        product[mask] = names[np.searchsorted(boundaries, np.log(unit_price[mask]))]
    return product


def _fixed_width_strings(n: int, *parts: str | tuple[np.ndarray, int]) -> np.ndarray:
    """Strings built from literal parts and zero-padded numbers, e.g. "INV", (n, 8).

    Writes the code points into one (n, width) matrix and reads it back as a fixed-width
    unicode array: an order of magnitude faster than formatting each string in Python.
    """
    columns: list[np.ndarray] = []
    for part in parts:
        if isinstance(part, str):
            columns.append(np.broadcast_to(np.array([ord(c) for c in part], np.uint32),
                                           (n, len(part))))
        else:
            values, width = part
            remaining = np.array(values, dtype=np.int64)  # a copy, divided in place below
            digits = np.empty((n, width), dtype=np.uint32)
            for position in range(width - 1, -1, -1):
                digits[:, position] = remaining % 10 + ord("0")
                remaining //= 10
            columns.append(digits)
    matrix = np.ascontiguousarray(np.hstack(columns))
    return matrix.view(f"U{matrix.shape[1]}").ravel().astype(object)
