"""{% persona_campaign_results persona %}: the persona card's "Campaign results" section,
so the persona page needs one line and no view change."""

from django import template

from campaigns import selectors

register = template.Library()


@register.inclusion_tag("campaigns/_persona_results.html", takes_context=True)
def persona_campaign_results(context, persona):
    user = context.get("user")
    allowed = user is not None and user.has_perm("campaigns.view_campaign")
    return {"results": selectors.persona_campaign_results(persona=persona) if allowed else [],
            "perms": context.get("perms")}
