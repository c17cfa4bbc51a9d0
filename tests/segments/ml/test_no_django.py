"""segments/ml is the Django-free numeric core: no module there may import Django."""

import ast
from pathlib import Path

import segments.ml

ML_DIR = Path(segments.ml.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_ml_package_does_not_import_django():
    files = sorted(ML_DIR.rglob("*.py"))
    assert files, "segments/ml has no modules"
    offenders = {
        str(path.relative_to(ML_DIR)): sorted(m for m in imported_modules(path) if m.split(".")[0] in {"django", "rest_framework", "celery"})
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}
