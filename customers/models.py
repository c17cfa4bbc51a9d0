from django.db import models
from django.db.models import Q


class Customer(models.Model):
    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"
        UNKNOWN = "", "Unknown"

    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)  # PII, optional
    email = models.EmailField(blank=True)  # PII, optional
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    annual_income = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    country = models.CharField(max_length=64, blank=True)
    city = models.CharField(max_length=100, blank=True)
    signup_date = models.DateField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(age__isnull=True) | Q(age__lte=130), name="customer_age_plausible"
            ),
            models.CheckConstraint(
                condition=Q(annual_income__isnull=True) | Q(annual_income__gte=0),
                name="customer_income_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["country"], name="customer_country_idx")]

    def __str__(self):
        return self.external_id


class Transaction(models.Model):
    class Channel(models.TextChoices):
        ONLINE = "online", "Online"
        STORE = "store", "Store"
        MOBILE = "mobile", "Mobile app"
        PHONE = "phone", "Phone"
        OTHER = "other", "Other"

    # indexed through txn_customer_time_idx, which leads with customer
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="transactions", db_index=False
    )
    invoice_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    quantity = models.IntegerField()  # negative for returns
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)  # quantity * unit_price
    product = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True, default="")

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            # the per-customer feature aggregation and the customer page's history
            models.Index(fields=["customer", "timestamp"], name="txn_customer_time_idx"),
            models.Index(fields=["timestamp"], name="txn_time_idx"),
            models.Index(fields=["invoice_id"], name="txn_invoice_idx"),
        ]

    def __str__(self):
        return f"{self.invoice_id} {self.customer_id} {self.amount}"
