"""{% persona_campaign_results persona %}: the persona card's "Campaign results" section,
so the persona page needs one line and no view change; and `points`, how lifts are printed."""

from django import template

from campaigns import selectors

register = template.Library()


@register.inclusion_tag("campaigns/_persona_results.html", takes_context=True)
def persona_campaign_results(context, persona):
    user = context.get("user")
    allowed = user is not None and user.has_perm("campaigns.view_campaign")
    return {"results": selectors.persona_campaign_results(persona=persona) if allowed else [],
            "perms": context.get("perms")}


@register.filter
def points(value, sign=""):
    """A difference of two rates in percentage points, one decimal: 0.067 -> "6.7", -0.012
    -> "−1.2" (a typographic minus, as in the intervals); sign="+" prints "+6.7". "–" when
    missing. The caller writes "pts": a difference of two percentages is not itself one."""
    if value is None or value == "" or value != value:
        return "–"
    shown = round(float(value) * 100, 1) + 0.0  # + 0.0: -0.0 prints as 0.0
    text = f"{abs(shown):.1f}"
    if shown < 0:
        return "−" + text
    return ("+" if sign == "+" else "") + text
