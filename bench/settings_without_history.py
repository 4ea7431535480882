"""The app's own settings with the change history off: the import without its cost of history.

``bench.importing`` runs under it (``DJANGO_SETTINGS_MODULE``) for the "without history" side of
the import figures; django-simple-history and ``catalog.history`` then write no record.
"""

from config.settings import *  # noqa: F403

SIMPLE_HISTORY_ENABLED = False
