"""Per-customer features from transaction lines, set-based: every step is a vectorised
numpy/pandas operation over all lines at once (factorize, bincount, ufunc.at), never a
Python loop over customers.

Input: one row per transaction line with the columns customer_id (int), invoice_id (str),
timestamp (datetime64, UTC; naive values are taken as UTC), quantity (int), amount (float;
negative for a returned line), product, category, channel (str), is_cancellation (bool).
Pass only the lines up to `as_of`: nothing here filters by date.

How returns and cancellations count
-----------------------------------
* An **invoice** is the lines of one customer with one invoice_id (so the same id under two
  customers is two invoices). It is dated by its earliest line.
* A **purchase occasion** is an invoice with a positive net amount (the sum of its lines)
  and no cancellation line. A return invoice (net <= 0) and a cancelled invoice (its lines
  are negative, Online Retail's "C" invoices) are never purchase occasions.
* **monetary** counts every line: purchases, minus returns, minus cancellations.
* A line is **returned or cancelled** when its amount is negative or it belongs to a
  cancellation (`is_cancellation`); `return_rate` is their share of the absolute line value.
* Everything dated by purchases (recency, tenure, first/last purchase, mean_days_between,
  the clv_* columns) uses purchase occasions only: a return does not make a customer recent.

A customer with only returns or cancellations therefore has frequency 0, a negative monetary,
return_rate 1, distinct_products 0, and NaN (NaT for the timestamps) for recency, tenure,
avg_order_value, mean_days_between, top_category_share, the channel shares and every clv_*
column: there is no purchase to measure from. A customer none of whose bought lines names a
category (data without categories) has distinct_categories 0 and top_category_share NaN. Downstream, RFM gives them "No purchases" and
CLV "no purchases" (see rfm.py, clv.py).

BG/NBD summary (the lifetimes convention, in days)
--------------------------------------------------
A **purchase day** is a UTC calendar day with at least one purchase occasion.
clv_frequency = purchase days - 1 (repeat purchases); clv_recency = days from the first to
the last purchase day; clv_T = days from the first purchase day (its midnight) to as_of;
clv_monetary = mean over the repeat purchase days (all but the first) of the net amount of
all the customer's invoices dated that day (a same-day return nets out; 0 with no repeat day).
With `holdout_start`, clv_cal_frequency, clv_cal_recency and clv_cal_T are the same summary
as of holdout_start (for customers whose first purchase day comes before it), and
clv_holdout_frequency the purchase days from it to as_of: lifetimes'
calibration_and_holdout_data split, for testing the fit (clv_reliability).

Chunking: every value depends on one customer's lines only, so calling this on disjoint sets
of customers and concatenating gives the same rows as one call, provided `channels` is given
(otherwise each chunk names the channel columns it happens to see).
"""

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

MICROSECONDS_PER_DAY = 86_400 * 1_000_000
# Channel columns inferred from the data are capped so that a messy import (free text in
# the channel column) cannot add thousands of columns; 20 is far above the five channels
# the app itself records and still a readable table.
MAX_INFERRED_CHANNELS = 20
# Up to this many customer x value cells (8 bytes each: 128 MB) a dense bincount replaces
# hashing (customer, value) pairs; it suits categories (tens) for a chunk of customers.
DENSE_CELLS_MAX = 16_000_000
# Above this many distinct values (products, usually) a dense block would hold too few
# customers to pay off, and distinct counts use a sort instead.
DENSE_VALUES_MAX = 256
# (customer, value) keys are structured integers (customer * width + value) that pandas'
# integer hash spreads badly; multiplying by this odd constant (wrapping, so one-to-one)
# scatters them first. It is 2**64 divided by the golden ratio, the usual Fibonacci hash.
_KEY_MIXER = np.int64(-7046029254386353131)
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min

FEATURE_DOCS: dict[str, tuple[str, str]] = {
    # name: (one-line help, unit)
    "recency": ("Days from the last purchase to the as-of date.", "days"),
    "frequency": ("Purchase occasions: invoices with a positive net amount, cancellations excluded.", "purchases"),
    "monetary": ("Net spend: purchases minus returns and cancellations.", "currency"),
    "avg_order_value": ("Net spend per purchase occasion.", "currency"),
    "tenure": ("Days from the first purchase to the as-of date.", "days"),
    "mean_days_between": ("Mean days between purchase occasions (needs two).", "days"),
    "return_rate": ("Share of the absolute line value that was returned or cancelled.", "share 0-1"),
    "distinct_products": ("Different products bought.", "products"),
    "distinct_categories": ("Different categories bought.", "categories"),
    "top_category_share": ("Share of gross spend in the customer's biggest category (missing when no line "
                           "bought names a category).", "share 0-1"),
    "first_purchase": ("Time of the first purchase occasion.", "timestamp"),
    "last_purchase": ("Time of the last purchase occasion.", "timestamp"),
    "clv_frequency": ("Repeat purchase days: distinct purchase days minus one.", "days"),
    "clv_recency": ("Days from the first to the last purchase day.", "days"),
    "clv_T": ("Days from the first purchase day to the as-of date.", "days"),
    "clv_monetary": ("Mean net value of the repeat purchase days (0 without any).", "currency"),
    "clv_cal_frequency": ("clv_frequency as of holdout_start.", "days"),
    "clv_cal_recency": ("clv_recency as of holdout_start.", "days"),
    "clv_cal_T": ("clv_T as of holdout_start (missing when the first purchase is not before it).", "days"),
    "clv_holdout_frequency": ("Repeat purchase days from holdout_start to the as-of date.", "days"),
}
# customer_features(holdout_start=...)'s extra columns (BG/NBD summary before the holdout)
HOLDOUT_COLUMNS = ("clv_cal_frequency", "clv_cal_recency", "clv_cal_T", "clv_holdout_frequency")
CHANNEL_DOC = ("Share of purchase occasions through the channel “{channel}”.", "share 0-1")


def channel_column(channel: str) -> str:
    """`channel_<name>`: lower case, runs of anything but letters and digits become "_"
    (so "Mobile app" and "mobile-app" share the column `channel_mobile_app`)."""
    return "channel_" + re.sub(r"[^0-9a-z]+", "_", str(channel).strip().lower()).strip("_")


def feature_doc(name: str) -> tuple[str, str]:
    """Help and unit for any output column, the channel_* ones included."""
    if name in FEATURE_DOCS:
        return FEATURE_DOCS[name]
    if name.startswith("channel_"):
        return CHANNEL_DOC[0].format(channel=name.removeprefix("channel_")), CHANNEL_DOC[1]
    raise KeyError(name)


def customer_features(
    transactions: pd.DataFrame, *, as_of: pd.Timestamp, channels: Sequence[str] | None = None,
    holdout_start: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per customer (index customer_id, ascending) with the features described in
    the module docstring and `FEATURE_DOCS`, plus one `channel_<name>` column per channel.

    `channels`: the channel values to make columns for, in this order (pass the app's
    channel choices when calling chunk by chunk). Occasions through any other channel, or
    none, count in no column, so the shares then sum to less than 1. When None, the columns
    are the channels present in `transactions`, at most MAX_INFERRED_CHANNELS of them (the
    ones with the most purchase occasions), sorted by name.

    `holdout_start` (a UTC midnight before as_of): also the columns of HOLDOUT_COLUMNS, the
    BG/NBD summary as of that moment and the repeat purchase days from it to as_of, for
    testing the lifetime-value fit on the period it did not see (clv_reliability).
    """
    as_of_us = _timestamp_microseconds(as_of)
    holdout_us = None if holdout_start is None else _timestamp_microseconds(holdout_start)
    if transactions.empty:
        names = list(dict.fromkeys(channel_column(c) for c in channels or [] if str(c).strip()))
        return _empty_frame(names, holdout=holdout_us is not None)

    cust, customer_ids = _customer_codes(transactions["customer_id"].to_numpy(dtype=np.int64))
    n_cust = len(customer_ids)
    time_us = _series_microseconds(transactions["timestamp"])
    amount = transactions["amount"].to_numpy(dtype="float64", na_value=0.0)
    cancelled = transactions["is_cancellation"].to_numpy(dtype=bool, na_value=False)

    # --- invoices -------------------------------------------------------------------
    invoice = _invoice_codes(transactions["invoice_id"], cust)
    n_inv = int(invoice.max()) + 1
    inv_cust = np.empty(n_inv, dtype=np.int64)
    inv_cust[invoice] = cust
    inv_net = np.bincount(invoice, weights=amount, minlength=n_inv)
    inv_cancelled = np.bincount(invoice, weights=cancelled, minlength=n_inv) > 0
    inv_time = np.full(n_inv, _INT64_MAX, dtype=np.int64)
    np.minimum.at(inv_time, invoice, time_us)

    occasion = (inv_net > 0) & ~inv_cancelled
    occ_cust = inv_cust[occasion]
    occ_time = inv_time[occasion]
    frequency = np.bincount(occ_cust, minlength=n_cust)
    has_purchase = frequency > 0
    first_us = np.full(n_cust, _INT64_MAX, dtype=np.int64)
    last_us = np.full(n_cust, _INT64_MIN, dtype=np.int64)
    np.minimum.at(first_us, occ_cust, occ_time)
    np.maximum.at(last_us, occ_cust, occ_time)
    first_f = np.where(has_purchase, first_us, 0).astype("float64")
    last_f = np.where(has_purchase, last_us, 0).astype("float64")

    monetary = np.bincount(cust, weights=amount, minlength=n_cust)
    recency = _nan_where(~has_purchase, (as_of_us - last_f) / MICROSECONDS_PER_DAY)
    tenure = _nan_where(~has_purchase, (as_of_us - first_f) / MICROSECONDS_PER_DAY)
    span_days = (last_f - first_f) / MICROSECONDS_PER_DAY
    # the mean gap between sorted occasions is their span over the number of gaps
    mean_days_between = _divide(span_days, frequency - 1.0, where=frequency >= 2)

    # --- returns, products, categories ----------------------------------------------
    absolute = np.abs(amount)
    returned = np.where((amount < 0) | cancelled, absolute, 0.0)
    return_rate = _divide(
        np.bincount(cust, weights=returned, minlength=n_cust),
        np.bincount(cust, weights=absolute, minlength=n_cust),
    )
    bought = (amount > 0) & ~cancelled
    distinct_products, _, _ = _distinct_per_customer(
        transactions["product"], cust, bought, amount, n_cust, with_top=False
    )
    distinct_categories, top_category, gross = _distinct_per_customer(
        transactions["category"], cust, bought, amount, n_cust, with_top=True
    )
    # no named category among the lines bought (Online Retail has no category column): no
    # top category, so no share of it; missing, not 0 %
    top_category_share = _divide(top_category, gross, where=(gross > 0) & (distinct_categories > 0))

    # --- channels ---------------------------------------------------------------------
    channel_names, line_channel = _channel_columns(transactions["channel"], channels, invoice, occasion)
    inv_channel = np.full(n_inv, -1, dtype=np.int64)
    inv_channel[invoice] = line_channel  # an invoice's channel: its last line's
    occ_channel = inv_channel[occasion]
    counted = occ_channel >= 0
    k = len(channel_names)
    channel_counts = np.bincount(
        occ_cust[counted] * k + occ_channel[counted], minlength=n_cust * k
    ).reshape(n_cust, k) if k else np.zeros((n_cust, 0))
    channel_shares = _divide(channel_counts, frequency[:, None].astype("float64"), where=has_purchase[:, None])

    # --- BG/NBD summary in days ---------------------------------------------------------
    clv = _clv_summary(
        inv_cust=inv_cust, inv_time=inv_time, inv_net=inv_net, occasion=occasion,
        first_us=first_us, has_purchase=has_purchase, n_cust=n_cust, as_of_us=as_of_us, holdout_us=holdout_us,
    )

    index = pd.Index(customer_ids, name="customer_id")
    columns = {
        "recency": recency,
        "frequency": frequency.astype(np.int64),
        "monetary": monetary,
        "avg_order_value": _divide(monetary, frequency.astype("float64"), where=has_purchase),
        "tenure": tenure,
        "mean_days_between": mean_days_between,
        "return_rate": return_rate,
        "distinct_products": distinct_products,
        "distinct_categories": distinct_categories,
        "top_category_share": top_category_share,
        **{name: channel_shares[:, i] for i, name in enumerate(channel_names)},
        "first_purchase": _utc_times(first_us, has_purchase),
        "last_purchase": _utc_times(last_us, has_purchase),
        **clv,
    }
    return pd.DataFrame(columns, index=index)


def _customer_codes(customer_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..n-1 in ascending customer order, and the customer ids."""
    if len(customer_id) and np.all(customer_id[1:] >= customer_id[:-1]):
        # sorted input (the job streams it so): codes by counting changes, no hashing
        change = np.empty(len(customer_id), dtype=bool)
        change[0] = True
        np.not_equal(customer_id[1:], customer_id[:-1], out=change[1:])
        return np.cumsum(change) - 1, customer_id[change]
    codes, ids = pd.factorize(customer_id, sort=True)
    return codes.astype(np.int64), np.asarray(ids)


def _invoice_codes(invoice_ids: pd.Series, cust: np.ndarray) -> np.ndarray:
    """A code per line for its (customer, invoice_id) pair, 0..n-1."""
    codes, uniques = pd.factorize(invoice_ids, use_na_sentinel=False)
    codes = codes.astype(np.int64)
    owner = np.empty(len(uniques), dtype=np.int64)
    owner[codes] = cust
    if np.array_equal(owner[codes], cust):
        return codes  # the usual case: every invoice id belongs to one customer
    keyed, _ = pd.factorize(cust * len(uniques) + codes)
    return keyed.astype(np.int64)


def _distinct_per_customer(values: pd.Series, cust, bought, amount, n_cust, *, with_top: bool):
    """For the bought lines with a non-blank value: distinct values per customer and, with
    `with_top`, the gross spend of the customer's biggest value and the customer's gross
    spend over all bought lines (blank value or not, so unnamed spend lowers the top share).

    Few distinct values (categories) go through dense customers x values bincounts, a block
    of customers at a time; many (products) through a sort of (customer, value) keys;
    unsorted input with many customers through a hash of the pairs.
    """
    codes, uniques = pd.factorize(values)
    codes = codes.astype(np.int64)
    blank = np.asarray(pd.Series(uniques, dtype="str").str.strip() == "", dtype=bool)
    named = bought & (codes >= 0)
    if blank.any():
        named &= ~blank[np.where(codes >= 0, codes, 0)]
    width = max(len(uniques), 1)
    gross = np.bincount(cust, weights=np.where(bought, amount, 0.0), minlength=n_cust) if with_top else None
    named_cust, named_codes, named_amount = cust[named], codes[named], amount[named]

    if not with_top and width > DENSE_VALUES_MAX:
        # a sort, not a hash; with lines grouped by customer the stable sort finds long runs
        ordered = np.sort(named_cust * width + named_codes, kind="stable")
        first_of_pair = np.empty(len(ordered), dtype=bool)
        first_of_pair[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first_of_pair[1:])
        return np.bincount(ordered[first_of_pair] // width, minlength=n_cust).astype(np.int64), None, None

    block = max(DENSE_CELLS_MAX // width, 1)
    if n_cust <= block or np.all(named_cust[1:] >= named_cust[:-1]):
        # bought lines are positive, so a pair has spend > 0 exactly when it was bought
        distinct = np.zeros(n_cust, dtype=np.int64)
        top = np.zeros(n_cust)
        for low in range(0, n_cust, block):
            high = min(low + block, n_cust)
            start, stop = np.searchsorted(named_cust, [low, high]) if n_cust > block else (0, len(named_cust))
            spend = np.bincount(
                (named_cust[start:stop] - low) * width + named_codes[start:stop],
                weights=named_amount[start:stop], minlength=(high - low) * width,
            ).reshape(high - low, width)
            distinct[low:high] = np.count_nonzero(spend > 0, axis=1)
            top[low:high] = spend.max(axis=1)
        return distinct, (top if with_top else None), gross

    with np.errstate(over="ignore"):
        pair, _ = pd.factorize((named_cust * width + named_codes) * _KEY_MIXER)
    n_pairs = int(pair.max()) + 1 if len(pair) else 0
    pair_cust = np.empty(n_pairs, dtype=np.int64)
    pair_cust[pair] = named_cust
    distinct = np.bincount(pair_cust, minlength=n_cust).astype(np.int64)
    pair_spend = np.bincount(pair, weights=named_amount, minlength=n_pairs)
    top = np.zeros(n_cust)
    np.maximum.at(top, pair_cust, pair_spend)
    return distinct, (top if with_top else None), gross


def _channel_columns(channel: pd.Series, channels, invoice, occasion):
    """Column names, and per line the index of its column (-1: no column)."""
    codes, uniques = pd.factorize(channel)
    names_of_unique = [channel_column(c) if str(c).strip() else "" for c in uniques]
    if channels is not None:
        names = list(dict.fromkeys(channel_column(c) for c in channels if str(c).strip()))
    else:
        # rank the present channels by purchase occasions, keep the top ones
        occ_per_unique = np.zeros(len(uniques))
        inv_code = np.full(len(occasion), -1, dtype=np.int64)
        inv_code[invoice] = codes
        present = inv_code[occasion]
        occ_per_unique += np.bincount(present[present >= 0], minlength=len(uniques))
        totals: dict[str, float] = {}
        for name, count in zip(names_of_unique, occ_per_unique):
            if name:
                totals[name] = totals.get(name, 0.0) + count
        ranked = sorted(totals, key=lambda n: (-totals[n], n))[:MAX_INFERRED_CHANNELS]
        names = sorted(ranked)
    position = {name: i for i, name in enumerate(names)}
    column_of_unique = np.array([position.get(name, -1) for name in names_of_unique] + [-1], dtype=np.int64)
    # factorize marks missing values -1, which indexes the trailing -1 above
    return names, column_of_unique[codes]


def _clv_summary(*, inv_cust, inv_time, inv_net, occasion, first_us, has_purchase, n_cust, as_of_us, holdout_us=None):
    inv_day = np.floor_divide(inv_time, MICROSECONDS_PER_DAY)
    first_day = np.floor_divide(np.where(has_purchase, first_us, 0), MICROSECONDS_PER_DAY)
    # every invoice on or after its customer's first purchase day (returns before it cannot
    # fall on a purchase day); (customer, day) pairs as one integer key
    after_first = has_purchase[inv_cust] & (inv_day >= first_day[inv_cust])
    day_offset = inv_day - first_day[inv_cust]
    width = int(day_offset[after_first].max()) + 1 if after_first.any() else 1
    key_cust, key_offset = inv_cust[after_first], day_offset[after_first]
    with np.errstate(over="ignore"):
        day_code, _ = pd.factorize((key_cust * width + key_offset) * _KEY_MIXER)
    n_keys = int(day_code.max()) + 1 if len(day_code) else 0
    day_cust = np.empty(n_keys, dtype=np.int64)
    day_cust[day_code] = key_cust
    offset_of_key = np.empty(n_keys, dtype=np.int64)
    offset_of_key[day_code] = key_offset
    is_purchase_day = np.bincount(day_code[occasion[after_first]], minlength=n_keys) > 0
    day_net = np.bincount(day_code, weights=inv_net[after_first], minlength=n_keys)
    repeat = is_purchase_day & (offset_of_key != 0)

    purchase_days = np.bincount(day_cust[is_purchase_day], minlength=n_cust)
    last_offset = np.zeros(n_cust, dtype=np.int64)
    np.maximum.at(last_offset, day_cust[is_purchase_day], offset_of_key[is_purchase_day])
    repeat_days = np.bincount(day_cust[repeat], minlength=n_cust)
    repeat_net = np.bincount(day_cust[repeat], weights=day_net[repeat], minlength=n_cust)
    first_midnight_us = first_day * MICROSECONDS_PER_DAY
    summary = {
        "clv_frequency": _nan_where(~has_purchase, purchase_days - 1.0),
        "clv_recency": _nan_where(~has_purchase, last_offset.astype("float64")),
        "clv_T": _nan_where(~has_purchase, (as_of_us - first_midnight_us) / MICROSECONDS_PER_DAY),
        "clv_monetary": _nan_where(~has_purchase, _divide(repeat_net, repeat_days.astype("float64"), where=repeat_days > 0, fill=0.0)),
    }
    if holdout_us is None:
        return summary
    # the same purchase days, split at the holdout's first day: before it the summary as of
    # holdout_start (customers whose first purchase day comes before it), from it the repeat
    # purchase days to count against the calibration fit's prediction
    in_calibration = has_purchase & (first_day < holdout_us // MICROSECONDS_PER_DAY)
    day_before = is_purchase_day & (first_day[day_cust] + offset_of_key < holdout_us // MICROSECONDS_PER_DAY)
    calibration_days = np.bincount(day_cust[day_before], minlength=n_cust)
    calibration_last = np.zeros(n_cust, dtype=np.int64)
    np.maximum.at(calibration_last, day_cust[day_before], offset_of_key[day_before])
    summary.update({
        "clv_cal_frequency": _nan_where(~in_calibration, calibration_days - 1.0),
        "clv_cal_recency": _nan_where(~in_calibration, calibration_last.astype("float64")),
        "clv_cal_T": _nan_where(~in_calibration, (holdout_us - first_midnight_us) / MICROSECONDS_PER_DAY),
        "clv_holdout_frequency": _nan_where(~in_calibration, purchase_days - calibration_days.astype("float64")),
    })
    return summary


def _divide(numerator, denominator, *, where=None, fill=np.nan):
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    if where is None:
        where = denominator != 0
    out = np.full(np.broadcast_shapes(numerator.shape, denominator.shape), fill)
    return np.divide(numerator, denominator, out=out, where=np.broadcast_to(where, out.shape))


def _nan_where(mask, values):
    return np.where(mask, np.nan, np.asarray(values, dtype="float64"))


def _timestamp_microseconds(value) -> int:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return (stamp.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)


def _series_microseconds(times: pd.Series) -> np.ndarray:
    times = pd.to_datetime(times, utc=True)  # no copy when already UTC
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)


def _utc_times(micros: np.ndarray, present: np.ndarray) -> pd.DatetimeIndex:
    values = np.where(present, micros, np.iinfo(np.int64).min).view("datetime64[us]")  # int64 min is NaT
    return pd.DatetimeIndex(values).tz_localize("UTC")


def _empty_frame(channel_names: list[str], *, holdout: bool = False) -> pd.DataFrame:
    columns = [
        "recency", "frequency", "monetary", "avg_order_value", "tenure", "mean_days_between",
        "return_rate", "distinct_products", "distinct_categories", "top_category_share",
        *channel_names, "first_purchase", "last_purchase",
        "clv_frequency", "clv_recency", "clv_T", "clv_monetary", *(HOLDOUT_COLUMNS if holdout else ()),
    ]
    dtypes = {"frequency": "int64", "distinct_products": "int64", "distinct_categories": "int64",
              "first_purchase": "datetime64[us, UTC]", "last_purchase": "datetime64[us, UTC]"}
    index = pd.Index([], dtype="int64", name="customer_id")
    return pd.DataFrame({name: pd.Series(index=index, dtype=dtypes.get(name, "float64")) for name in columns}, index=index)
