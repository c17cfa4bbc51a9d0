"""Django's own date formats set to custseg's one format (custseg_site.dates), so a date
printed without the |when / |day filters (a form's initial value in text, the admin) reads
the same: "2 Dec 2026", "2 Dec 2026 13:20". Input formats stay Django's."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y H:i"
