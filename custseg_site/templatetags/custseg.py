import re

from django import template

from customers import features
from custseg_site import dates

register = template.Library()


@register.filter(is_safe=True)
def when(value):
    """A moment as "2 Dec 2026 13:20" in the reader's time zone, "7 minutes ago" on hover:
    the one way pages show a date and time (custseg_site.dates)."""
    return dates.when_html(value)


@register.filter(is_safe=True)
def day(value):
    """A day as "2 Dec 2026": the one way pages show a date without a time."""
    return dates.day_html(value)


@register.filter
def attribute_label(key):
    """A custom attribute's key as pages say it ("demo_group" -> "Demo group"), the label its
    feature has elsewhere (customers.features.attribute_label)."""
    return features.attribute_label(str(key))


@register.filter
def percent(value, digits=0):
    """0.253 -> "25%"; "–" for a missing value (None, NaN)."""
    if value is None or value == "" or value != value:
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def bar_width(value):
    """A share (0-1) as a CSS width: "25.3%", "0%" when missing, clamped to 0-100 % (a
    segment's net revenue can be negative when it mostly returned goods)."""
    if value is None or value == "" or value != value:
        return "0%"
    return f"{min(max(float(value), 0.0), 1.0) * 100:.1f}%"


@register.filter
def number(value, digits=2):
    """A float with a fixed number of decimals and thousands separators."""
    if value is None or value == "" or value != value:  # NaN too
        return "–"
    return f"{float(value):,.{int(digits)}f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def algorithm_name(config):
    """A run's algorithm in words: "k-means", "Hierarchical (Ward)"."""
    from segments.options import algorithm_label

    return algorithm_label(config or {})


@register.filter
def feature_names(names, labels):
    """Feature names as the pages say them: ["recency", "annual_income"] -> "Days since last
    order, Annual income" (`labels`: customers.selectors.feature_labels())."""
    return ", ".join((labels or {}).get(name, name) for name in names or [])


@register.filter
def stat(value):
    """A statistic for a table: numbers with thousands separators, anything else as it is."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
        if re.match(r"^\d{4}-\d\d-\d\d(T00:00:00(\+00:00)?)?$", text):  # a day
            return dates.day_html(text[:10])
        if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\.\d+)?(\+\d\d:\d\d|Z)$", text):  # a moment
            return dates.when_html(text)
        return text
    return f"{value:,}" if float(value).is_integer() else f"{value:,.2f}"


@register.filter
def field_label(name):
    from customers.importing.mapping import field_label as label

    return {"attribute": "custom attribute", "ignore": "ignored"}.get(name) or label(name)


@register.filter
def preset_options(preset):
    """A preset's reading options, in words."""
    options = []
    if preset.dayfirst:
        options.append("dates day first")
    if preset.decimal_comma:
        options.append("decimal comma")
    for field, factor in preset.units.items():
        options.append(f"{field_label(field)} × {float(factor):,g}")
    if preset.kind == "transactions" and preset.anonymous == "reject":
        options.append("rows without a customer id rejected")
    return options


@register.filter
def join_list(value):
    """A list shown as "a, b, c"; anything else as itself."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return value
