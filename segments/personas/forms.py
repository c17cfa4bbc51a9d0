from django import forms
from django.contrib.auth import get_user_model

from custseg_site.forms import ServiceCheckedForm
from segments.models import Persona
from segments.personas import services


class PersonaForm(ServiceCheckedForm):
    """The persona's editable fields; segments.personas.services checks them (unique name,
    colour, channels) in clean(), with the fields' own checks, and its messages land on the
    fields."""

    name = forms.CharField(max_length=120, help_text="What the team will call these customers, e.g. “Young big spenders”.")
    avatar = forms.CharField(max_length=8, required=False,
                             help_text="An emoji or a few letters shown on the card; empty: the name's initials.")
    colour = forms.CharField(max_length=7, initial="#4e79a7", widget=forms.TextInput(attrs={"type": "color"}),
                             help_text="The card's colour.")
    status = forms.ChoiceField(choices=Persona.Status.choices, initial=Persona.Status.DRAFT,
                               help_text="Draft while you work on it; approved once the team agrees.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text="Who they are, in a few sentences. Suggested from the segment's profile.")
    goals = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="What these customers want to achieve.")
    pain_points = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="What gets in their way, or annoys them.")
    channels = forms.MultipleChoiceField(choices=Persona.Channel.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple,
                                         help_text="Where to reach them.")
    owner = forms.ModelChoiceField(queryset=None, required=False, help_text="Who looks after this persona.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, persona: Persona | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.persona = persona
        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")

    def service_check(self, fields: dict) -> None:
        services.persona_check(fields=fields, persona=self.persona)

    @classmethod
    def initial_for(cls, persona: Persona) -> dict:
        return {name: getattr(persona, name) for name in cls.base_fields}
