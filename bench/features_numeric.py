"""Speed of customers.analytics.customer_features against a bare pandas groupby on the same
in-memory frame (last purchase, distinct invoices, net spend per customer), same run.

    .venv/bin/python bench/features_numeric.py
    .venv/bin/python bench/features_numeric.py --transactions 10000000 --customers 1000000

The frame is what the job builds from the database: sorted by customer, string columns in
pandas' default string dtype, UTC timestamps. No database and no Django.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from customers.analytics.features import customer_features  # noqa: E402

# Shape of the synthetic data, close to the demo data: about 2.5 lines per invoice, 4% of
# lines returned, 1% of invoices cancelled, 2,000 products in 20 categories, five channels.
LINES_PER_INVOICE = 2.5
RETURN_SHARE = 0.04
CANCELLED_INVOICE_SHARE = 0.01
PRODUCTS = 2_000
CATEGORIES = 20
CHANNELS = np.array(["online", "store", "mobile", "phone", "other"])
HISTORY_DAYS = 730


def synthetic_transactions(*, transactions: int, customers: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    invoices = max(int(transactions / LINES_PER_INVOICE), customers)
    # every customer has an invoice, the rest fall at random; lines likewise per invoice
    invoice_customer = np.sort(np.concatenate([np.arange(customers), rng.integers(0, customers, invoices - customers)]))
    line_invoice = np.sort(np.concatenate([np.arange(invoices), rng.integers(0, invoices, transactions - invoices)]))
    cancelled_invoice = rng.random(invoices) < CANCELLED_INVOICE_SHARE
    invoice_time = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, HISTORY_DAYS * 86_400, invoices), unit="s"
    )
    invoice_channel = rng.integers(0, len(CHANNELS), invoices)
    product = rng.integers(0, PRODUCTS, transactions)
    quantity = rng.integers(1, 6, transactions)
    returned = rng.random(transactions) < RETURN_SHARE
    cancelled = cancelled_invoice[line_invoice]
    quantity = np.where(returned | cancelled, -quantity, quantity)
    unit_price = np.round(rng.gamma(2.0, 6.0, PRODUCTS), 2)[product]
    invoice_names = np.char.add(np.where(cancelled_invoice, "C", ""), np.arange(invoices).astype(str))
    return pd.DataFrame({
        "customer_id": invoice_customer[line_invoice].astype(np.int64) + 1,
        "invoice_id": pd.array(invoice_names[line_invoice], dtype="str"),
        "timestamp": invoice_time[line_invoice],
        "quantity": quantity,
        "amount": quantity * unit_price,
        "product": pd.array(np.char.add("P", product.astype(str)), dtype="str"),
        "category": pd.array(np.char.add("cat", (product % CATEGORIES).astype(str)), dtype="str"),
        "channel": pd.array(CHANNELS[invoice_channel[line_invoice]], dtype="str"),
        "is_cancellation": cancelled,
    })


def best_of(repeats: int, function):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=2_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="Best of this many runs each.")
    parser.add_argument(
        "--categorical", action="store_true",
        help="product, category and channel as pandas categoricals (as a loader can build them "
             "from the database's ids), so customer_features does not hash those strings.",
    )
    args = parser.parse_args()

    start = time.perf_counter()
    frame = synthetic_transactions(transactions=args.transactions, customers=args.customers, seed=args.seed)
    print(f"generated {len(frame):,} transactions of {frame['customer_id'].nunique():,} customers "
          f"in {time.perf_counter() - start:.1f} s")
    if args.categorical:
        frame = frame.astype({"product": "category", "category": "category", "channel": "category"})
    as_of = frame["timestamp"].max().normalize() + pd.Timedelta(days=1)

    baseline_s, _ = best_of(args.repeats, lambda: frame.groupby("customer_id").agg(
        last=("timestamp", "max"), frequency=("invoice_id", "nunique"), monetary=("amount", "sum"),
    ))
    features_s, features = best_of(args.repeats, lambda: customer_features(frame, as_of=as_of))
    print(f"bare groupby (last, nunique invoices, sum):  {baseline_s:7.3f} s")
    print(f"customer_features ({features.shape[1]} columns):         {features_s:7.3f} s")
    print(f"ratio features / baseline:                   {features_s / baseline_s:7.2f}x")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; "
          f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}, "
          f"best of {args.repeats}, {'categorical' if args.categorical else 'string'} product/category/channel")


if __name__ == "__main__":
    main()
