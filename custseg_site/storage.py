"""Static files for `make run` (STATIC_HASHED=1, after collectstatic) and production."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed, gzipped files, whose URLs carry the hash with DEBUG on too: Django's
    manifest storage writes plain names under DEBUG, which WhiteNoise must then send with no
    cache lifetime, so `make run` (DEBUG=1) would fetch Plotly's 4.6 MB again on every page."""

    def url(self, name, force=False):
        return super().url(name, force=True)
