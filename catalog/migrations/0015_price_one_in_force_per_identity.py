"""Two rows of one price identity never in force at once, said by PostgreSQL itself (issue 22).

Until now the write paths kept that rule (``catalog.actions.schedule``, ``write_offerings``, the
admin's price inline); an outside writer (raw SQL, another tool) could break it, and every reader
would then pick one of two prices at random. The exclusion constraint needs ``btree_gist`` (the
identity's columns in a GiST index beside the time range).

No row is changed: rows that overlap already stop the migration with the list of them, to be
ended or deleted by someone who knows which price is right.
"""

import django.contrib.postgres.constraints
import django.contrib.postgres.fields.ranges
import django.db.models.functions.comparison
from django.contrib.postgres.operations import BtreeGistExtension
from django.core.management.base import CommandError
from django.db import DatabaseError, migrations, models

# Pairs of rows of one identity whose spans overlap (NULL ends are open), with the model's ID.
OVERLAPS = """
SELECT m.model_id, a.id, b.id, a.price_type, a.unit
FROM catalog_priceentry a
JOIN catalog_priceentry b ON b.model_id = a.model_id AND b.id > a.id
JOIN catalog_servedmodel m ON m.id = a.model_id
WHERE a.modality_id IS NOT DISTINCT FROM b.modality_id
  AND a.price_type = b.price_type AND a.unit = b.unit
  AND a.ttl_seconds IS NOT DISTINCT FROM b.ttl_seconds
  AND a.implicit IS NOT DISTINCT FROM b.implicit
  AND a.utc_start IS NOT DISTINCT FROM b.utc_start
  AND a.utc_end IS NOT DISTINCT FROM b.utc_end
  AND tstzrange(a.valid_from, a.valid_until, '[)') && tstzrange(b.valid_from, b.valid_until, '[)')
ORDER BY m.model_id, a.id, b.id
"""


def btree_gist_missing(available: bool, role: str, database: str, reason: str) -> str:
    """What to do when btree_gist cannot be created, in one line (``migrate`` prints it so)."""
    if not available:
        return (
            "This PostgreSQL server lacks the btree_gist extension, which the catalog's price "
            "constraint (migration catalog.0015) needs: install the server's contrib modules "
            "(Debian: the postgresql-contrib package) and migrate again; nothing of 0015 was "
            "applied."
        )
    return (
        f"The catalog's price constraint (migration catalog.0015) needs the btree_gist "
        f'extension, which role "{role}" may not create in database "{database}" ({reason}): run '
        "CREATE EXTENSION btree_gist; in it as a superuser (or as its owner) and migrate again; "
        "nothing of 0015 was applied."
    )


def create_btree_gist(apps, schema_editor):
    # A CommandError, which `manage.py migrate` prints as one line; the server's own errors (a
    # control file not found, permission denied) would come out as tracebacks. The migration's
    # transaction is rolled back either way.
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, current_database(), EXISTS "
            "(SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist')"
        )
        role, database, available = cursor.fetchone()
        if not available:
            raise CommandError(btree_gist_missing(False, role, database, ""))
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        except DatabaseError as error:
            reason = str(error).strip().splitlines()[0]
            raise CommandError(btree_gist_missing(True, role, database, reason)) from None


def refuse_overlaps(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(OVERLAPS)
        found = cursor.fetchall()
    if found:
        listed = "; ".join(
            f"{model_id}: {price_type} per {unit}, rows {first} and {second}"
            for model_id, first, second, price_type, unit in found[:20]
        )
        more = f" (and {len(found) - 20} more)" if len(found) > 20 else ""
        raise CommandError(
            f"{len(found)} pair(s) of price rows of one identity are in force at the same time: "
            f"{listed}{more}. End or delete one row of each pair (catalog_priceentry.valid_until "
            "or DELETE), then migrate again; nothing was changed."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0014_price_schedule_announced"),
    ]

    operations = [
        migrations.RunPython(create_btree_gist, migrations.RunPython.noop),
        # Already there by now: kept for its reverse, which drops the extension.
        BtreeGistExtension(),
        migrations.RunPython(refuse_overlaps, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="priceentry",
            constraint=django.contrib.postgres.constraints.ExclusionConstraint(
                expressions=[
                    ("model", "="),
                    (
                        django.db.models.functions.comparison.Coalesce("modality", models.Value(0)),
                        "=",
                    ),
                    ("price_type", "="),
                    ("unit", "="),
                    (
                        django.db.models.functions.comparison.Coalesce(
                            "ttl_seconds", models.Value(0)
                        ),
                        "=",
                    ),
                    (
                        django.db.models.functions.comparison.Coalesce(
                            django.db.models.functions.comparison.Cast(
                                "implicit", models.IntegerField()
                            ),
                            models.Value(-1),
                        ),
                        "=",
                    ),
                    (
                        django.db.models.functions.comparison.Coalesce(
                            "utc_start", models.Value(-1)
                        ),
                        "=",
                    ),
                    (
                        django.db.models.functions.comparison.Coalesce("utc_end", models.Value(-1)),
                        "=",
                    ),
                    (
                        models.Func(
                            "valid_from",
                            "valid_until",
                            models.Value("[)"),
                            function="tstzrange",
                            output_field=django.contrib.postgres.fields.ranges.DateTimeRangeField(),
                        ),
                        "&&",
                    ),
                ],
                name="priceentry_one_in_force_per_identity",
            ),
        ),
    ]
