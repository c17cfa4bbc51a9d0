from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import Customer, Transaction


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"T{n:06d}")
    gender = factory.Iterator(["F", "M"])
    age = factory.Sequence(lambda n: 20 + n % 50)
    annual_income = factory.Sequence(lambda n: Decimal(20_000 + (n % 40) * 2_000))
    country = "United Kingdom"


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    customer = factory.SubFactory(CustomerFactory)
    invoice_id = factory.Sequence(lambda n: f"I{n:07d}")
    timestamp = factory.LazyFunction(timezone.now)
    quantity = 1
    unit_price = Decimal("10.00")
    amount = factory.LazyAttribute(lambda t: t.quantity * t.unit_price)
    product = "Mug"
    category = "Home"
    channel = "online"


# Three buying patterns far apart in recency, frequency and monetary, so that k-means
# with k=3 on RFM must find exactly these groups.
PLANTED_GROUPS = {
    # name: (days ago of the last purchase, purchases, spend per purchase)
    "loyal": (2, 12, Decimal("80.00")),
    "lapsed": (300, 2, Decimal("20.00")),
    "big_once": (60, 1, Decimal("900.00")),
}


def planted_customers(per_group: int = 20) -> dict[str, list[Customer]]:
    """Customers in the three PLANTED_GROUPS, with their purchases, written in bulk."""
    now = timezone.now().replace(microsecond=0)
    groups: dict[str, list[Customer]] = {}
    transactions = []
    for name, (days_ago, purchases, price) in PLANTED_GROUPS.items():
        customers = CustomerFactory.create_batch(per_group)
        groups[name] = customers
        for position, customer in enumerate(customers):
            for purchase in range(purchases):
                transactions.append(
                    TransactionFactory.build(
                        customer=customer,
                        invoice_id=f"{customer.external_id}-{purchase}",
                        timestamp=now - timedelta(days=days_ago + 3 * purchase, hours=position % 5),
                        unit_price=price,
                        amount=price,
                    )
                )
    Transaction.objects.bulk_create(transactions)
    return groups
