"""A price entry limited to UTC weekdays: the typed format's ``utc_days`` (issue 22).

``PriceEntry.utc_days`` holds the weekdays as bits (Monday 1 ... Sunday 64; NULL, as every
existing row: every day). They are part of a price's identity, so both identity constraints
are made again with the column. ``catalog_offering_snapshot()`` (migration 0012) writes
``utc_days`` on a row only when set, as it does ``valid_from``/``valid_until``: every snapshot
of a model without weekday prices is what it was, and history records keep the weekdays, so
``export_models --as-of`` renders them.

Backwards: refused while a row has weekdays (the column would go, and with it what the price
means); delete those rows first.
"""

from importlib import import_module

import django.contrib.postgres.constraints
import django.contrib.postgres.fields.ranges
import django.db.models.functions.comparison
from django.db import migrations, models

# The function as migration 0012 defined it: what going backwards restores.
SNAPSHOT_BEFORE = import_module("catalog.migrations.0012_price_schedules").SNAPSHOT

SNAPSHOT = SNAPSHOT_BEFORE.replace(
    "DROP FUNCTION catalog_offering_snapshot(bigint);\nCREATE FUNCTION",
    "CREATE OR REPLACE FUNCTION",
).replace(
    """        ) || CASE WHEN p.valid_from IS NULL""",
    """        ) || CASE WHEN p.utc_days IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('utc_days', p.utc_days)
        END || CASE WHEN p.valid_from IS NULL""",
)
RESTORE = SNAPSHOT_BEFORE.replace(
    "DROP FUNCTION catalog_offering_snapshot(bigint);\nCREATE FUNCTION",
    "CREATE OR REPLACE FUNCTION",
)


def refuse_weekdays(apps, schema_editor):
    PriceEntry = apps.get_model("catalog", "PriceEntry")
    found = PriceEntry.objects.filter(utc_days__isnull=False).count()
    if found:
        raise RuntimeError(
            f"{found} price(s) apply on some weekdays only (utc_days), which the catalog before "
            "this migration cannot hold: delete them before migrating back."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0015_price_one_in_force_per_identity"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="priceentry",
            name="priceentry_one_per_identity_and_start",
        ),
        migrations.RemoveConstraint(
            model_name="priceentry",
            name="priceentry_one_in_force_per_identity",
        ),
        migrations.AddField(
            model_name="priceentry",
            name="utc_days",
            field=models.PositiveSmallIntegerField(
                blank=True, null=True, verbose_name="weekdays (UTC)"
            ),
        ),
        migrations.AddConstraint(
            model_name="priceentry",
            constraint=models.UniqueConstraint(
                fields=(
                    "model",
                    "modality",
                    "price_type",
                    "unit",
                    "ttl_seconds",
                    "implicit",
                    "utc_start",
                    "utc_end",
                    "utc_days",
                    "valid_from",
                ),
                name="priceentry_one_per_identity_and_start",
                nulls_distinct=False,
            ),
        ),
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
                        django.db.models.functions.comparison.Coalesce("utc_days", models.Value(0)),
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
        migrations.AddConstraint(
            model_name="priceentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("utc_days__isnull", True),
                    models.Q(("utc_days__gte", 1), ("utc_days__lte", 127)),
                    _connector="OR",
                ),
                name="priceentry_weekdays_bits",
            ),
        ),
        migrations.RunSQL(sql=SNAPSHOT, reverse_sql=RESTORE),
        migrations.RunPython(migrations.RunPython.noop, refuse_weekdays),
    ]
