"""customers/analytics is Django-free numeric code: no module there may import Django."""

from pathlib import Path

import customers.analytics
from tests.segments.ml.test_no_django import imported_modules

ANALYTICS_DIR = Path(customers.analytics.__file__).parent


def test_analytics_package_does_not_import_django():
    files = sorted(ANALYTICS_DIR.rglob("*.py"))
    assert {p.name for p in files} >= {"__init__.py", "features.py", "rfm.py", "clv.py"}
    offenders = {
        str(path.relative_to(ANALYTICS_DIR)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in {"django", "rest_framework", "celery", "customers.models"}
        )
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}
