from django import forms

from customers.features import DEFAULT_FEATURES
from customers.selectors import feature_catalogue
from custseg_site.forms import ServiceCheckedForm
from segments.options import OPTIONS
from segments.services import runs


class RunForm(ServiceCheckedForm):
    """Options for a new run, one field per segments.options.OPTIONS entry.

    Fields take text as typed; segments.services.run_validate parses and checks them (the
    same code the API and the CLI go through) in clean(), with the fields' own checks, and
    its messages come back per field.
    """

    name = forms.CharField(
        max_length=200, required=False,
        help_text="Optional. Leave empty and a name is made from the options.",
    )
    features = forms.MultipleChoiceField(
        choices=[],  # the feature catalogue, which grows with imported attributes: see __init__
        initial=list(DEFAULT_FEATURES),
        widget=forms.CheckboxSelectMultiple,
        help_text="What the segments are built on. Recency, frequency and monetary (RFM) "
        "describe buying behaviour; age, income, gender and country describe who the customers are. "
        "Customers who never bought are left out of runs on purchase features (recency, frequency, spend "
        "and the like), since those say nothing about them, and the run page counts them; RFM rules give "
        "them a segment of their own, “No purchases”.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.catalogue = feature_catalogue()
        self.fields["features"].choices = [(f.name, f.label) for f in self.catalogue.values()]
        for option in OPTIONS:
            self.fields[option.name] = _field(option)

    def feature_help(self):
        return {name: f.help for name, f in self.catalogue.items()}

    def option_fields(self, *, advanced: bool):
        """Bound fields of the run options, with the algorithms each applies to."""
        for option in OPTIONS:
            if option.advanced == advanced:
                yield self[option.name], " ".join(option.algorithms)

    def service_check(self, fields: dict) -> None:
        runs.run_validate(features=fields.get("features") or [], **self.options())

    def options(self) -> dict:
        return {option.name: self.cleaned_data.get(option.name) for option in OPTIONS}


def _field(option) -> forms.Field:
    common = dict(label=option.label, help_text=option.help, required=False)
    initial = "" if option.default is None else option.default
    if option.kind == "choice":
        return forms.ChoiceField(choices=option.choices, initial=initial, **common)
    attrs = {"inputmode": "decimal"} if option.kind in ("int", "float") else {}
    if option.kind in ("int", "float"):
        attrs.update({key: value for key, value in (("min", option.min), ("max", option.max)) if value is not None})
        attrs["step"] = "any" if option.kind == "float" else "1"
        widget = forms.NumberInput(attrs=attrs)
    else:
        widget = forms.TextInput(attrs={"placeholder": str(initial)})
    # CharField: the service parses the text, so "auto" and "12" go through one path
    return forms.CharField(initial=initial, widget=widget, **common)
