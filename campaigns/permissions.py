"""The permissions the campaign pages and API check (custseg_site.roles grants them:
Marketers add and change, which includes launching and importing outcomes, and delete
drafts; every role views)."""

VIEW_CAMPAIGN = "campaigns.view_campaign"
ADD_CAMPAIGN = "campaigns.add_campaign"
CHANGE_CAMPAIGN = "campaigns.change_campaign"
DELETE_CAMPAIGN = "campaigns.delete_campaign"  # drafts only: campaigns.services.campaign_delete
