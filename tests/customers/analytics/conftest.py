import numpy as np
import pandas as pd
import pytest

COLUMNS = "customer_id invoice_id timestamp quantity amount product category channel is_cancellation".split()


def transactions(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["amount"] = frame["amount"].astype("float64")
    frame["is_cancellation"] = frame["is_cancellation"].astype(bool)
    return frame


def random_transactions(*, customers: int, lines: int, seed: int) -> pd.DataFrame:
    """Seeded random lines: ~3 lines per invoice, some returns and cancellations, ordered by customer."""
    rng = np.random.default_rng(seed)
    invoices = lines // 3
    invoice_customer = rng.integers(1, customers + 1, invoices)
    line_invoice = rng.integers(0, invoices, lines)
    cancelled = (rng.random(invoices) < 0.05)[line_invoice]
    returned = rng.random(lines) < 0.08
    quantity = rng.integers(1, 4, lines) * np.where(returned | cancelled, -1, 1)
    frame = pd.DataFrame({
        "customer_id": invoice_customer[line_invoice].astype("int64"),
        "invoice_id": np.char.add(np.where(cancelled, "C", ""), line_invoice.astype(str)),
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 400 * 86_400, invoices), unit="s")[line_invoice],
        "quantity": quantity,
        "amount": quantity * rng.choice([2.5, 10.0, 40.0], lines),
        "product": np.char.add("p", rng.integers(0, 30, lines).astype(str)),
        "category": np.char.add("c", rng.integers(0, 4, lines).astype(str)),
        "channel": rng.choice(["online", "store", "Mobile app"], invoices)[line_invoice],
        "is_cancellation": cancelled,
    })
    return frame.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


@pytest.fixture
def as_of():
    return pd.Timestamp("2024-02-01", tz="UTC")


def bgnbd_transactions(*, customers: int, days: int, seed: int, start="2024-01-01") -> pd.DataFrame:
    """One-line invoices drawn from the BG/NBD story (purchase rate ~ Gamma(r=0.5, scale 1/20)
    a day, drop-out after each purchase with p ~ Beta(1, 3)) and the Gamma-Gamma one (spend
    ~ Gamma(shape 6, rate nu), nu ~ Gamma(shape 4, rate 15)): data the models can fit."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer_id in range(1, customers + 1):
        rate, dropout, spend_rate = rng.gamma(0.5, 1 / 20), rng.beta(1.0, 3.0), rng.gamma(4.0, 1 / 15)
        day = rng.uniform(0, days * 0.7)  # first purchase somewhere in the first 70%
        n = 0
        while day < days:
            rows.append((customer_id, f"I{customer_id}-{n}", pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=day),
                         1, float(rng.gamma(6.0, 1 / spend_rate)), "p", "c", "online", False))
            n += 1
            if rng.random() < dropout:
                break
            day += rng.exponential(1 / rate)
    return transactions(rows)


def no_dropout_transactions(*, customers: int, days: int, seed: int, start="2024-01-01") -> pd.DataFrame:
    """One-line invoices of customers who never stop buying: each buys at a steady Poisson
    rate (~ Gamma(r=0.8, scale 1/70) a day, Online Retail's fitted rates) from a first
    purchase in the first 70% of the period to its end. BG/NBD's drop-out has nothing to learn."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer_id in range(1, customers + 1):
        rate = rng.gamma(0.8, 1 / 70)
        day, n = rng.uniform(0, days * 0.7), 0
        while day < days:
            rows.append((customer_id, f"N{customer_id}-{n}", pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=day),
                         1, float(rng.gamma(6.0, 5.0)), "p", "c", "online", False))
            n += 1
            day += rng.exponential(1 / rate)
    return transactions(rows)
