"""`make bench`: what users feel, measured side by side on generated catalogs (issue #6).

``python -m bench`` runs every section and writes ``docs/PERFORMANCE.md``. Each measurement
that needs Django runs in a subprocess of its own (``python -m bench.<module>``), so that its
database, settings and peak memory are its own; this package's ``__init__`` stays free of
Django so that ``bench.bare_wsgi`` loads nothing but the standard library.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The public endpoint, as the contract names it (../shared/spec/openrouter-models.openapi.yaml).
ENDPOINT = "/inference/router/openrouter/models"
# The typed representation of the same endpoint (OpenRouter's schema 2.4), as OpenRouter asks.
TYPED_QUERY = "schema_version=2.4"
TYPED_ENDPOINT = f"{ENDPOINT}?{TYPED_QUERY}"


def setup_django() -> None:
    """Configure Django from the environment, as manage.py and config.wsgi do."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
