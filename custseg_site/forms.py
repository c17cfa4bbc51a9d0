from django import forms

from custseg_site.tokens import SCOPES
from segments.models import Persona


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “CRM nightly sync”.")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {help}") for scope, help in SCOPES.items()], initial=["membership:read"],
        widget=forms.CheckboxSelectMultiple,
        help_text="Give an integration only what it needs: membership:read reads members and nothing else.")


class WebhookEndpointForm(forms.Form):
    name = forms.CharField(max_length=100)
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Receives a signed POST after each publish that changes a persona's members.")
    persona = forms.ModelChoiceField(queryset=Persona.objects.order_by("name"), required=False,
                                     empty_label="Every persona")
