"""manage.py load_demo_catalog: the demo catalog for a fresh installation (make run)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from catalog.importer import import_catalog
from catalog.models import ServedModel

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "demo" / "catalog.json"


class Command(BaseCommand):
    help = (
        "Import the demo catalog, only when the database has no served model yet "
        "(safe to run on every start)."
    )

    def handle(self, *args, **options):
        existing = ServedModel.objects.count()
        if existing:
            self.stdout.write(
                f"The catalog already has {existing} models; the demo catalog was not loaded."
            )
            return
        result = import_catalog(DEMO_CATALOG.read_bytes(), change_reason="load_demo_catalog")
        self.stdout.write(
            self.style.SUCCESS(f"Loaded the demo catalog: {len(result.created)} models.")
        )
