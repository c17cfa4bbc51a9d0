"""The three roles, as Django groups with permissions.

Analyst  runs segmentations and publishes them.
Marketer curates personas and campaigns.
Manager  reads everything and changes nothing.

Pages and the API check permissions (not group names), so a superuser can do anything
and a custom group can mix rights.
"""

ANALYST = "Analyst"
MARKETER = "Marketer"
MANAGER = "Manager"

READ_ALL = [
    "customers.view_customer",
    "customers.view_transaction",
    "segments.view_segmentationrun",
    "segments.view_segment",
    "segments.view_membership",
    "segments.view_persona",
    "customers.view_importjob",
    "customers.view_featuresnapshot",
    "campaigns.view_campaign",
]

ROLE_PERMISSIONS = {
    ANALYST: READ_ALL + [
        "segments.run_segmentation", "segments.publish_run", "customers.run_import", "customers.compute_features",
        # integration tokens and webhooks (the Integrations page)
        "integrations.manage_api_tokens",
    ],
    MARKETER: READ_ALL
    + [
        "segments.add_persona",
        "segments.change_persona",
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "campaigns.delete_campaign",  # a draft; a launched campaign is kept (campaigns.services.campaign_delete)
    ],
    MANAGER: READ_ALL,
}

START_RUN = "segments.run_segmentation"
PUBLISH_RUN = "segments.publish_run"
VIEW_RUNS = "segments.view_segmentationrun"
COMPUTE_FEATURES = "customers.compute_features"
VIEW_FEATURES = "customers.view_featuresnapshot"
VIEW_CUSTOMERS = "customers.view_customer"
VIEW_PERSONAS = "segments.view_persona"
ADD_PERSONA = "segments.add_persona"
CHANGE_PERSONA = "segments.change_persona"
MANAGE_INTEGRATIONS = "integrations.manage_api_tokens"

# Customers' email addresses and names are personal data. Whoever may read a customer (the
# customers API's detail shows both) may also have them in member lists and exports: the
# membership API and the segment and campaign page exports all ask may_see_personal_data.
VIEW_PERSONAL_DATA = VIEW_CUSTOMERS
PERSONAL_FIELDS = ("email", "name")


def may_see_personal_data(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(VIEW_PERSONAL_DATA))


def sync_role_groups(sender=None, using="default", **kwargs):
    from django.contrib.auth.models import Group, Permission

    if sender is not None and sender.label != "custseg_site":
        return
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        permissions = []
        for code in codes:
            app_label, codename = code.split(".")
            permission = (
                Permission.objects.using(using)
                .filter(content_type__app_label=app_label, codename=codename)
                .first()
            )
            if permission is not None:
                permissions.append(permission)
        group.permissions.set(permissions)
