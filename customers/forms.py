from django import forms

from customers.importing.mapping import ALIASES, KINDS, field_label
from customers.models import ImportPreset


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(k, k.capitalize()) for k in KINDS], widget=forms.RadioSelect, initial="customers",
        help_text="Customers: one row per customer. Transactions: one row per purchase line; "
        "customers they name that are not known yet are created.",
    )
    file = forms.FileField(help_text="CSV (comma, semicolon or tab), gzip-compressed CSV, or XLSX.")
    preset = forms.ModelChoiceField(
        queryset=ImportPreset.objects.all(), required=False, empty_label="none: detect the columns",
        label="Mapping preset",
        help_text="A mapping saved from an earlier import of the same kind of export. You can still "
        "change any column on the next step.",
    )

    def clean(self):
        data = super().clean()
        preset, kind = data.get("preset"), data.get("kind")
        if preset is not None and kind and preset.kind != kind:
            self.add_error("preset", f"“{preset.name}” is a preset for {preset.kind}, not {kind}.")
        return data


def field_choices(kind: str) -> list[tuple[str, str]]:
    return (
        [("attribute", "keep as custom attribute"), ("ignore", "ignore this column")]
        + [(name, field_label(name)) for name in ALIASES[kind]]
    )


# The confirm step's choice of date order ("" lets the file's dates say it).
DATE_ORDERS = [("", "as the file shows"), ("day", "day first: 03/02/2024 is 3 February"),
               ("month", "month first: 03/02/2024 is March 2")]


def date_order_choice(dayfirst: bool | None) -> str:
    return {True: "day", False: "month"}.get(dayfirst, "")


class ImportConfirmForm(forms.Form):
    token = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)
    original_name = forms.CharField(max_length=255, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=[(k, k) for k in KINDS], widget=forms.HiddenInput)
    dayfirst = forms.TypedChoiceField(
        choices=DATE_ORDERS, coerce=lambda value: {"day": True, "month": False}.get(value), empty_value=None,
        required=False, label="Dates are written",
        help_text="When a date such as 03/02/2024 could be read either way and no date in the file tells, the "
        "import asks you to choose.",
    )
    decimal_comma = forms.BooleanField(required=False, label='Numbers use a decimal comma ("1.234,5")')
    anonymous = forms.ChoiceField(
        choices=[("keep", "keep them as anonymous transactions"), ("reject", "reject them")],
        initial="keep", label="Rows without a customer id",
    )
    preset = forms.ModelChoiceField(queryset=ImportPreset.objects.all(), required=False, widget=forms.HiddenInput)
    save_preset = forms.CharField(
        max_length=100, required=False, label="Save this mapping as a preset named (optional)",
        help_text="Next time, choose it when you upload a file from the same export. Giving the "
        "name of an existing preset replaces it.",
    )

    def __init__(self, *args, header=(), mapping=None, unit_hints=None, units_on=None, **kwargs):
        super().__init__(*args, **kwargs)
        kind = (self.data.get("kind") if self.is_bound else self.initial.get("kind")) or "customers"
        if kind != "transactions":
            self.fields["anonymous"].widget = forms.HiddenInput()  # only transactions lack customers
        self.column_fields = []
        for position, column in enumerate(header):
            name = f"col_{position}"
            initial = (mapping or {}).get("fields", {}).get(column) or (
                "attribute" if column in (mapping or {}).get("attributes", {}) else "ignore")
            self.fields[name] = forms.ChoiceField(choices=field_choices(kind), initial=initial, label=column)
            self.fields[name].widget.attrs["aria-label"] = f"Field for the column “{column}”"
            self.column_fields.append((column, name))
        self.unit_fields = []
        for field_name, factor in (unit_hints or {}).items():
            name = f"unit_{field_name}"
            self.fields[name] = forms.BooleanField(
                required=False, initial=units_on is None or field_name in units_on,
                label=f"{field_label(field_name).capitalize()} is in thousands: multiply by 1,000"
                if float(factor) == 1000 else f"Multiply {field_label(field_name)} by {float(factor):,g}",
            )
            self.unit_fields.append((field_name, name, factor))

    def overrides(self) -> dict[str, str]:
        return {column: self.cleaned_data[name] for column, name in self.column_fields}

    def units(self) -> dict[str, float]:
        return {field: float(factor) for field, name, factor in self.unit_fields if self.cleaned_data.get(name)}
