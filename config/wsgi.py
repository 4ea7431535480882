import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django first (it sets itself up), then the endpoint's fast path in front of it.
_django = get_wsgi_application()

from router.wsgi import CatalogFastPath  # noqa: E402 - needs Django set up

application = CatalogFastPath(_django)
