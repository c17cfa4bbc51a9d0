"""Map a file's columns to custseg's fields, from the names shops and CRMs actually use.

Columns that match no standard field are kept as typed custom attributes (number,
category, date), never dropped. Units are suggested ("Annual Income (k$)" is in
thousands) but only applied when the user says so. No Django here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from customers.importing.dates import DateOrder

CUSTOMERS = "customers"
TRANSACTIONS = "transactions"
KINDS = (CUSTOMERS, TRANSACTIONS)

# field -> names it goes by (compared after normalise(): lower case, letters and digits only)
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    CUSTOMERS: {
        "external_id": ("customerid", "customer", "customerno", "customernumber", "clientid", "id", "custid", "customercode"),
        "name": ("name", "fullname", "customername"),
        "email": ("email", "emailaddress", "mail"),
        "gender": ("gender", "genre", "sex"),
        "age": ("age", "ageyears"),
        "birth_year": ("birthyear", "yearofbirth", "yob"),
        "annual_income": ("annualincome", "income", "annualincomek", "yearlyincome", "salary"),
        "country": ("country", "countrycode", "nation"),
        "city": ("city", "town"),
        "signup_date": ("signupdate", "signup", "createdat", "registrationdate", "customersince", "joined", "joindate"),
    },
    TRANSACTIONS: {
        "customer_external_id": ("customerid", "customer", "customerno", "customernumber", "clientid", "custid"),
        "invoice_id": ("invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "orderno", "ordernumber", "transactionid", "receipt"),
        "timestamp": ("invoicedate", "date", "orderdate", "timestamp", "datetime", "transactiondate", "purchasedate", "time"),
        "quantity": ("quantity", "qty", "units"),
        "unit_price": ("unitprice", "price", "itemprice"),
        "amount": ("amount", "total", "linetotal", "revenue", "sales", "value"),
        "product": ("stockcode", "sku", "productid", "product", "productcode", "item", "itemcode"),
        "description": ("description", "productname", "itemname", "itemdescription"),
        "category": ("category", "productcategory", "department"),
        "channel": ("channel", "saleschannel", "source"),
        "country": ("country",),
    },
}
REQUIRED: dict[str, tuple[str, ...]] = {
    CUSTOMERS: ("external_id",),
    # and a quantity, unless an amount is mapped (an order-level file: one amount per order)
    TRANSACTIONS: ("invoice_id", "timestamp"),
}
# What the mapping step and the report say about a file without a quantity column.
QUANTITY_DEFAULT_NOTE = ("No column holds a quantity: each row counts as one unit, and its amount as what was "
                         "paid for the row (one amount per order is read as one line per order).")
DATE_FIELDS = ("timestamp", "signup_date")
# How the fields are named to people (pages, messages); the rest read well as they are.
FIELD_LABELS = {
    "external_id": "customer id", "customer_external_id": "customer id", "invoice_id": "invoice id",
    "timestamp": "date and time", "unit_price": "unit price", "annual_income": "annual income",
    "birth_year": "birth year", "signup_date": "signup date", "product": "product (code)",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " "))


# A money column named like "(k$)", "in thousands", "000s" is probably in thousands.
THOUSANDS_HINT = re.compile(r"\bk\s*\$|\(k\)|\bk€|thousand|\b000s?\b|\bk\s*(usd|eur|gbp)\b", re.I)
MONEY_FIELDS = ("annual_income", "unit_price", "amount")


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _strip_units(name: str) -> str:
    return re.sub(r"\(.*?\)|\[.*?\]", "", name)


@dataclass
class Mapping:
    kind: str
    fields: dict[str, str]  # source column -> custseg field
    attributes: dict[str, str] = field(default_factory=dict)  # source column -> attribute type
    unit_hints: dict[str, int] = field(default_factory=dict)  # field -> suggested multiplier
    # every column's type as inferred from the sample: a column the user turns into an
    # attribute keeps it (not stored with the job)
    column_types: dict[str, str] = field(default_factory=dict)
    # the sample's numbers read as decimal-comma numbers ("52.000,50"): suggest the option
    decimal_comma_hint: bool = False
    # the sample's date cells, per date column: what they say of day first / month first
    date_orders: dict[str, DateOrder] = field(default_factory=dict)

    def column_for(self, field_name: str) -> str | None:
        for column, mapped in self.fields.items():
            if mapped == field_name:
                return column
        return None

    def missing_required(self) -> list[str]:
        mapped = set(self.fields.values())
        missing = [name for name in REQUIRED[self.kind] if name not in mapped]
        if self.kind == TRANSACTIONS:
            if "quantity" not in mapped and "amount" not in mapped:
                missing.append("quantity")
            if not ({"unit_price", "amount"} & mapped):
                missing.append("unit_price or amount")
        return missing

    def date_columns(self) -> list[str]:
        """The columns read as dates: date fields and date attributes."""
        return ([column for column, name in self.fields.items() if name in DATE_FIELDS]
                + [column for column, kind in self.attributes.items() if kind == "date"])

    @property
    def quantity_defaults_to_one(self) -> bool:
        """A transactions file with an amount and no quantity: each row is one unit."""
        mapped = set(self.fields.values())
        return self.kind == TRANSACTIONS and "amount" in mapped and "quantity" not in mapped

    def missing_message(self, header: list[str]) -> str:
        """What is missing, in words, with the field names the API and CLI take."""
        missing = self.missing_required()
        wanted = ", ".join(f"{' or '.join(field_label(n) for n in name.split(' or '))} ({name})" for name in missing)
        return (f"No column is mapped to: {wanted}. Columns in the file: {', '.join(header)}. "
                "Choose the column that holds it (with the API or CLI: a mapping such as "
                f"\"{header[0] if header else 'Column'}={missing[0].split(' or ')[0]}\").")


class MappingError(ValueError):
    pass


def detect_mapping(header: list[str], kind: str, sample: pd.DataFrame | None = None) -> Mapping:
    """Guess which column is which field; the rest become typed custom attributes."""
    if kind not in KINDS:
        raise MappingError(f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    aliases = ALIASES[kind]
    fields: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        keys = {normalise(column), normalise(_strip_units(column))}
        for field_name, names in aliases.items():
            if field_name not in taken and keys & set(names):
                fields[column] = field_name
                taken.add(field_name)
                break
    mapping = Mapping(kind=kind, fields=fields)
    for column, field_name in fields.items():
        if field_name in MONEY_FIELDS and THOUSANDS_HINT.search(column):
            mapping.unit_hints[field_name] = 1000
    for column in header:
        values = sample[column] if sample is not None and column in sample else pd.Series([], dtype=object)
        mapping.column_types[column] = infer_attribute_type(values)
        if column not in fields:
            mapping.attributes[column] = mapping.column_types[column]
    return mapping


def infer_attribute_type(values: pd.Series) -> str:
    """"number", "date" or "category", from a sample of a column's values."""
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return "category"
    numbers = pd.to_numeric(present.str.replace(",", "", regex=False), errors="coerce")
    if numbers.notna().mean() >= 0.95:
        return "number"
    looks_like_date = present.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True)
    if looks_like_date.mean() >= 0.95:
        dates = pd.to_datetime(present, errors="coerce", format="mixed")
        if dates.notna().mean() >= 0.95:
            return "date"
    return "category"


def parse_map_options(options: list[str], header: list[str], kind: str) -> dict[str, str]:
    """`--map "Annual Income (k$)=annual_income"` pairs; the last '=' separates."""
    allowed = set(ALIASES[kind]) | {"ignore", "attribute"}
    result = {}
    for option in options:
        column, separator, target = option.rpartition("=")
        if not separator or not column:
            raise MappingError(f"--map takes SOURCE=FIELD, got {option!r}.")
        if column not in header:
            raise MappingError(f"The file has no column {column!r}. Columns: {', '.join(header)}.")
        if target not in allowed:
            raise MappingError(
                f"Unknown field {target!r} for {kind}. Fields: {', '.join(sorted(allowed))}."
            )
        result[column] = target
    return result


def apply_overrides(mapping: Mapping, overrides: dict[str, str]) -> Mapping:
    """The user's choices win: a field given to a column is taken from any other column."""
    fields = dict(mapping.fields)
    attributes = dict(mapping.attributes)
    for column, target in overrides.items():
        fields.pop(column, None)
        detected = attributes.pop(column, None)
        if target in ("ignore",):
            continue
        if target == "attribute":
            # the type detected from the column's values, not text by default
            attributes[column] = detected or mapping.column_types.get(column, "category")
            continue
        for other, mapped in list(fields.items()):
            if mapped == target:
                del fields[other]
                attributes[other] = mapping.column_types.get(other, "category")
        fields[column] = target
    return Mapping(kind=mapping.kind, fields=fields, attributes=attributes, unit_hints=mapping.unit_hints,
                   column_types=mapping.column_types)
