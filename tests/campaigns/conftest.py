import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded outcome files go to the test's own folder, so a test sees only its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
