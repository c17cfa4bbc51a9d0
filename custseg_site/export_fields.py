"""The columns a page export adds on request: customers' email and name (personal data,
custseg_site.roles), chosen with ?fields=email&fields=name (checkboxes) or ?fields=email,name
(as the API takes them). The customer id column is always there."""

from django.core.exceptions import PermissionDenied

from custseg_site import roles

FIELD_LABELS = {"email": "Email address", "name": "Name"}
ALWAYS = "external_id"  # asking for it (as API habits do) is no error


class UnknownExportField(ValueError):
    pass


def personal_fields(request) -> list[str]:
    """The personal fields asked for, in PERSONAL_FIELDS order ([] by default).
    UnknownExportField for any other name; PermissionDenied for a role that may not see
    them, whatever it typed in the address."""
    asked = [name.strip() for value in request.GET.getlist("fields") for name in value.split(",") if name.strip()]
    asked = [name for name in asked if name != ALWAYS]
    unknown = [name for name in asked if name not in roles.PERSONAL_FIELDS]
    if unknown:
        raise UnknownExportField(
            f"This export cannot add {', '.join(unknown)}: it adds {' and '.join(roles.PERSONAL_FIELDS)} on request, "
            f"and always has the customer id.")
    if asked and not roles.may_see_personal_data(request.user):
        raise PermissionDenied("Your role does not include customers' email addresses and names, so exports "
                               "leave them out. Ask an administrator if you need them.")
    return [name for name in roles.PERSONAL_FIELDS if name in asked]


def export_choices(user) -> list[tuple[str, str]]:
    """The checkboxes an export form offers this user: none for a role that may not see them."""
    return [(name, FIELD_LABELS[name]) for name in roles.PERSONAL_FIELDS] if roles.may_see_personal_data(user) else []
