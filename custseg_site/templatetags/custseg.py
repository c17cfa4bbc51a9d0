from django import template

register = template.Library()


@register.filter
def percent(value, digits=0):
    """0.253 -> "25%"; empty for missing values."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def number(value, digits=2):
    """A float with a fixed number of decimals and thousands separators."""
    if value is None or value == "":
        return "–"
    return f"{float(value):,.{int(digits)}f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
