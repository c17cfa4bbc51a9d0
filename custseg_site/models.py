"""No models here (ApiToken moved to integrations). The module stays because Django sends
post_migrate only to apps with a models module, and custseg_site's post_migrate is the one
that fills the role groups (roles.sync_role_groups, connected in apps.py)."""
