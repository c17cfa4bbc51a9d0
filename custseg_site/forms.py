"""Forms whose service checks the fields further (unique names, dates in order, URLs that
can receive webhooks, run options against the data).

Django runs a form's clean() whatever its fields' own checks found; a view that calls the
service only once form.is_valid() shows the service's messages on the next submit, after
the person fixed the first ones. ServiceCheckedForm runs the service's check in clean(), on
the fields that passed their own checks, so one submit reports every problem.
"""

from django import forms
from django.core.exceptions import ValidationError


class ServiceCheckedForm(forms.Form):
    def service_check(self, fields: dict) -> None:
        """Raise the service's ValidationError for `fields` (a check that saves nothing)."""
        raise NotImplementedError

    def service_fields(self) -> dict:
        """The cleaned fields as the service takes them."""
        return dict(self.cleaned_data)

    def clean(self):
        cleaned = super().clean()
        try:
            self.service_check(self.service_fields())
        except ValidationError as exc:
            self.add_service_errors(exc, skip_fields_in_error=True)
        return cleaned

    def add_service_errors(self, exc: ValidationError, *, skip_fields_in_error: bool = False) -> None:
        """The service's messages on their fields (on the form for the others). With
        skip_fields_in_error, a field whose own check already failed keeps that one message
        (a service asked without it may say it is missing)."""
        for field, errors in exc.message_dict.items():
            target = field if field in self.fields else None
            if skip_fields_in_error and target is not None and target in self.errors:
                continue
            self.add_error(target, errors)
