from django.conf import settings
from django.db import models
from django.db.models import Q

from custseg_site.dates import format_day
from custseg_site.jobs.models import JobRow


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

    # indexed through txn_customer_time_idx, which leads with customer. Empty for an
    # anonymous transaction (an import row without a customer id, kept by choice).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="transactions", db_index=False,
        null=True, blank=True,
    )
    invoice_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    quantity = models.IntegerField()  # negative for returns
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)  # quantity * unit_price
    product = models.CharField(max_length=200, blank=True)
    # db_default: bulk COPY writers that do not name these columns still get a value
    description = models.CharField(max_length=300, blank=True, default="", db_default="")
    category = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=16, blank=True, default="")
    # A cancelled invoice (Online Retail marks them with a "C" prefix); its lines are
    # negative, like returns.
    is_cancellation = models.BooleanField(default=False, db_default=False)
    # Identity of an imported line (see customers.importing.validate.row_hashes): a second
    # import of the same line is recognised and adds nothing. Empty for demo data.
    # Migration 0005 drops the LIKE (varchar_pattern_ops) index Django adds for a unique
    # CharField: nothing searches hashes by prefix, and each imported line paid for it.
    row_hash = models.CharField(max_length=32, null=True, blank=True, unique=True)
    # columns of the imported file that match no field, typed (see customers.importing)
    attributes = models.JSONField(default=dict, blank=True, db_default={})

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


class ImportJob(JobRow):
    """One uploaded file being imported: its options, progress, counts and report."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        TRANSACTIONS = "transactions", "Transactions"

    JOB_NOUN = "this import"
    JOB_BROKER_DOWN = ("The job queue (Redis) could not be reached, so the import did not start. Check that Redis "
                       "and a worker are running, then import again.")
    JOB_CLEANUP = "customers.services.import_handlers.drop_staged"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    task_name = models.CharField(max_length=100, default="customers.import_file", editable=False)
    file_path = models.CharField(max_length=500)  # under MEDIA_ROOT/imports/
    original_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    mapping = models.JSONField(default=dict)  # {"fields": {col: field}, "attributes": {col: type}}
    options = models.JSONField(default=dict)  # customers.importing.validate.ImportOptions
    rows_read = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)  # already in the database as they are
    rejected = models.BigIntegerField(default=0)
    anonymous = models.BigIntegerField(default=0)  # transactions kept without a customer
    customers_created = models.BigIntegerField(default=0)  # by a transactions file
    report = models.JSONField(default=dict, blank=True)
    preset = models.ForeignKey("ImportPreset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="import_jobs",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("run_import", "Can import customer and transaction files")]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="import_progress_0_100"),
            models.CheckConstraint(
                condition=Q(kind__in=["customers", "transactions"]), name="import_kind_valid"
            ),
        ]

    def __str__(self):
        return f"import #{self.pk} {self.original_name}"

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.rows_read if self.rows_read else 0.0


class ImportPreset(models.Model):
    """A saved column mapping and reading options, reused for files from the same export."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ImportJob.Kind.choices)
    # source column -> field, "attribute" or "ignore" (columns not named are detected)
    mapping = models.JSONField(default=dict, blank=True)
    units = models.JSONField(default=dict, blank=True)  # field -> multiplier
    # True day first, False month first, None: the file's dates tell (asked when they cannot)
    dayfirst = models.BooleanField(null=True, default=None)
    decimal_comma = models.BooleanField(default=False)
    anonymous = models.CharField(max_length=8, default="keep")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="import_preset_kind_name_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["customers", "transactions"]), name="import_preset_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.kind})"


class CustomAttribute(models.Model):
    """A column that an import kept as a typed custom attribute of customers.

    The first import that brings a column fixes its type; later imports read the column
    with that type, so one attribute never holds numbers in one file and text in another.
    Number attributes are segmentation features (feature name ``feature_name``).
    """

    class Type(models.TextChoices):
        NUMBER = "number", "Number"
        CATEGORY = "category", "Category"
        DATE = "date", "Date"

    key = models.CharField(max_length=200, unique=True)  # the column name, as in Customer.attributes
    feature_name = models.CharField(max_length=80, unique=True)  # "attr_spending_score_1_100"
    type = models.CharField(max_length=16, choices=Type.choices)
    first_import = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["number", "category", "date"]), name="custom_attribute_type_valid"
            ),
        ]

    def __str__(self):
        return self.key


class ImportRejectedRow(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejected_rows", db_index=False)
    line = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "line"]
        indexes = [models.Index(fields=["job", "line"], name="import_rejected_job_line_idx")]


class ImportStagedCustomer(models.Model):
    """Validated rows of a customers import, merged in one transaction when the file is read.

    Staging keeps a failed or cancelled import from leaving half a file behind.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, db_index=False)
    line = models.BigIntegerField()
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    gender = models.CharField(max_length=1, blank=True)
    age = models.PositiveSmallIntegerField(null=True)
    birth_year = models.PositiveSmallIntegerField(null=True)
    annual_income = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    country = models.CharField(max_length=64, blank=True)
    city = models.CharField(max_length=100, blank=True)
    signup_date = models.DateField(null=True)
    attributes = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["job", "line"], name="staged_cust_job_line_idx"),
                   models.Index(fields=["job", "external_id", "line"], name="staged_cust_job_id_idx")]


class ImportStagedTransaction(models.Model):
    """Validated lines of a transactions import, before the set-based merge.

    Rows live here only while their job runs: the merge finds duplicates within the file
    and against the database in SQL, then moves the rest into Transaction. Built for a
    fast COPY: no index and no foreign-key constraint (the merge reads a job's rows in
    one pass; jobs are deleted through Django, which cascades), and on PostgreSQL the
    table is UNLOGGED (no WAL; a crash empties it, and an interrupted job starts over).
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    line = models.BigIntegerField()
    row_hash = models.CharField(max_length=32)
    customer_external_id = models.CharField(max_length=64, blank=True)
    invoice_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    product = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=64, blank=True)
    is_cancellation = models.BooleanField(default=False)
    attributes = models.JSONField(default=dict, db_default={})


class FeatureSnapshot(JobRow):
    """One computation of every customer's features as of a date: the job row, and what
    pages, API and segmentation read once it has succeeded (the newest succeeded one)."""

    JOB_NOUN = "computing these features"
    JOB_BROKER_DOWN = ("The job queue (Redis) could not be reached, so the features were not computed. Check that "
                       "Redis and a worker are running, then try again.")
    JOB_TIMED_OUT = "Computing the features took longer than its time limit."

    # None: the day after the last transaction, fixed when the job starts
    requested_as_of = models.DateTimeField(null=True, blank=True)
    as_of = models.DateTimeField(null=True, blank=True)
    task_name = models.CharField(max_length=100, default="customers.compute_features", editable=False)
    trigger = models.CharField(max_length=100, blank=True)  # "page", "api", "cli", "import #12"
    customers = models.BigIntegerField(default=0)
    # fitted lifetime-value models: {"bgnbd": {...}, "gamma_gamma": {...}, "diagnostics": {...}}
    clv = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)  # RFM segment counts, timings
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("compute_features", "Can compute customer features")]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="snapshot_progress_0_100"),
        ]
        indexes = [models.Index(fields=["status", "-finished_at"], name="snapshot_status_idx")]

    def __str__(self):
        return f"features #{self.pk} as of {format_day(self.as_of)}" if self.as_of else f"features #{self.pk}"


class CustomerFeatures(models.Model):
    """One customer's features in one snapshot. Returns and cancellations count as in
    customers.analytics.features (README: "How returns and cancellations count")."""

    # No database foreign keys (db_constraint=False): PostgreSQL checks them one row at a
    # time at commit, 7 s of a 1M-customer snapshot job (issue 4). The job writes only ids
    # it has just read, its snapshot row is locked until it commits, and deletes go
    # through the ORM, which cascades in Python. demo_data's TRUNCATE names this table.
    # A customer deleted while a job runs can leave a row in that snapshot (counted in its
    # totals) until the snapshot is pruned.
    snapshot = models.ForeignKey(FeatureSnapshot, on_delete=models.CASCADE, related_name="rows", db_index=False,
                                 db_constraint=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="feature_rows", db_index=False,
                                 db_constraint=False)
    recency = models.FloatField(null=True)
    frequency = models.FloatField(null=True)
    monetary = models.FloatField(null=True)
    avg_order_value = models.FloatField(null=True)
    tenure = models.FloatField(null=True)
    mean_days_between = models.FloatField(null=True)
    return_rate = models.FloatField(null=True)
    distinct_products = models.FloatField(null=True)
    distinct_categories = models.FloatField(null=True)
    top_category_share = models.FloatField(null=True)
    channel_mix = models.JSONField(default=dict, blank=True)  # channel -> share of purchase occasions
    first_purchase = models.DateTimeField(null=True)
    last_purchase = models.DateTimeField(null=True)
    r_score = models.PositiveSmallIntegerField(null=True)
    f_score = models.PositiveSmallIntegerField(null=True)
    m_score = models.PositiveSmallIntegerField(null=True)
    rfm_code = models.CharField(max_length=3, blank=True)
    rfm_segment = models.CharField(max_length=40, blank=True)
    p_alive = models.FloatField(null=True)
    expected_purchases = models.FloatField(null=True)
    clv = models.FloatField(null=True)
    clv_status = models.CharField(max_length=40, blank=True)  # "ok" or why there is no number

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "customer"], name="features_one_row_per_customer"),
            models.CheckConstraint(
                condition=Q(r_score__isnull=True) | Q(r_score__gte=1, r_score__lte=5), name="features_r_score_1_5"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "snapshot"], name="features_customer_idx"),
            models.Index(fields=["snapshot", "rfm_segment"], name="features_snapshot_rfm_idx"),
        ]
