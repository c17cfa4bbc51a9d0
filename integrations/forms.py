import secrets

from django import forms

from custseg_site.forms import ServiceCheckedForm
from integrations.scopes import SCOPES
from integrations.services import webhooks
from segments.models import Persona


class SentOnceForm(forms.Form):
    """A form whose answer shows a key or secret once: it carries a random `once` value, so
    that sending it again (reloading that answer) is recognised (integrations.views.first_sending)
    instead of creating a second token or rotating the secret again."""

    once = forms.CharField(widget=forms.HiddenInput, required=False)

    # both forms sit on one page: ids of their own ("token-name", "webhook-name")
    id_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["once"] = secrets.token_urlsafe(16)

    def service_fields(self) -> dict:
        """The cleaned fields without `once` (which is the view's, not the service's)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "once"}


class ApiTokenForm(SentOnceForm):
    id_prefix = "token"
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “CRM nightly sync”.")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {help}") for scope, help in SCOPES.items()], initial=["membership:read"],
        widget=forms.CheckboxSelectMultiple,
        help_text="Give an integration only what it needs: membership:read reads members and nothing else.")


class WebhookEndpointForm(SentOnceForm, ServiceCheckedForm):
    id_prefix = "webhook"
    name = forms.CharField(max_length=100)
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https", help_text="Receives a signed POST after each publish that changes a persona's members.")
    persona = forms.ModelChoiceField(queryset=Persona.objects.order_by("name"), required=False,
                                     empty_label="Every persona")

    def service_check(self, fields: dict) -> None:
        webhooks.webhook_endpoint_check(fields=fields)
