from django import forms

from customers.features import DEFAULT_FEATURES
from customers.selectors import feature_catalogue
from segments import ml


class RunForm(forms.Form):
    """Options for a new k-means run; checks against the data happen in run_validate."""

    name = forms.CharField(
        max_length=200, required=False,
        help_text="Optional. Leave empty and a name is made from the options.",
    )
    features = forms.MultipleChoiceField(
        choices=[],  # the feature catalogue, which grows with imported attributes: see __init__
        initial=list(DEFAULT_FEATURES),
        widget=forms.CheckboxSelectMultiple,
        help_text="What the segments are built on. Recency, frequency and monetary (RFM) "
        "describe buying behaviour; age and income describe who the customers are.",
    )
    k = forms.IntegerField(
        label="Number of segments (k)", initial=4, min_value=ml.MIN_K, max_value=ml.MAX_K,
        help_text=f"Between {ml.MIN_K} and {ml.MAX_K}. Four to six segments are usually "
        "as many as a team can name and act on.",
    )
    seed = forms.IntegerField(
        initial=0, min_value=0, max_value=2**32 - 1, required=False,
        help_text="Random seed: the same seed on the same data gives the same segments.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.catalogue = feature_catalogue()
        # numeric only until the engine takes categorical features (run_validate says so too)
        self.fields["features"].choices = [(f.name, f.label) for f in self.catalogue.values() if not f.categorical]

    def feature_help(self):
        return {name: f.help for name, f in self.catalogue.items()}
