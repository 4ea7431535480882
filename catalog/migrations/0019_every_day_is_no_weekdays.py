"""A price on all seven weekdays is a price of every day: one identity, ``utc_days`` NULL.

Before this, the typed decoder stored seven days as 127, a price identity apart from NULL,
which the flat body never showed (it skips weekday prices) while the typed body and every
Python reader (``catalog.offering.weekday_set``) read it as every day. Such rows become NULL and
the CHECK no longer admits 127. A 127 row in force beside a NULL row of the same identity would
be two prices of one identity at once: refused, naming them, with nothing changed.

Backwards: the CHECK admits 127 again; the rows stay NULL, which means the same.
"""

from django.core.management.base import CommandError
from django.db import migrations, models

EVERY_DAY = 127
IDENTITY = ("model_id", "modality_id", "price_type", "unit", "ttl_seconds", "implicit",
            "utc_start", "utc_end")  # fmt: skip


def _overlap(a, b) -> bool:
    return (a.valid_from is None or b.valid_until is None or a.valid_from < b.valid_until) and (
        b.valid_from is None or a.valid_until is None or b.valid_from < a.valid_until
    )


def every_day_is_no_weekdays(apps, schema_editor):
    PriceEntry = apps.get_model("catalog", "PriceEntry")
    every_day = list(PriceEntry.objects.filter(utc_days=EVERY_DAY).select_related("model"))
    if not every_day:
        return
    clashes = []
    for row in every_day:
        twins = PriceEntry.objects.filter(
            utc_days__isnull=True, **{name: getattr(row, name) for name in IDENTITY}
        )
        clashes += [
            f"{row.model.model_id}: {row.price_type} per {row.unit}, rows {row.pk} and {twin.pk}"
            for twin in twins
            if _overlap(row, twin)
        ]
    if clashes:
        raise CommandError(
            f"{len(clashes)} price(s) on all seven weekdays are in force beside the same price "
            f"without weekdays ({'; '.join(clashes)}): end or delete one of each pair, then "
            "migrate again."
        )
    PriceEntry.objects.filter(pk__in=[row.pk for row in every_day]).update(utc_days=None)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0018_history_model_id_moment_index"),
    ]

    operations = [
        migrations.RunPython(every_day_is_no_weekdays, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="priceentry",
            name="priceentry_weekdays_bits",
        ),
        migrations.AddConstraint(
            model_name="priceentry",
            constraint=models.CheckConstraint(
                condition=models.Q(utc_days__isnull=True)
                | models.Q(utc_days__gte=1, utc_days__lt=127),
                name="priceentry_weekdays_bits",
            ),
        ),
    ]
