"""An index of the history by model and moment: each model's record in force at a moment is
one step down it (``catalog.timeline.prices_at``, ``records_at``), where the separate indexes
of ``id`` and ``history_date`` made a batch of 1,000 lookups at a year of daily records take
seconds (docs/PERFORMANCE.md).

Raw SQL: simple-history builds the historical model, which declares no such index, so the
model state is left as it is. Built concurrently, as the history is the largest table.
"""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("catalog", "0016_price_weekdays")]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_history_model_moment ON "
            "catalog_historicalservedmodel (id, history_date DESC, history_id DESC)",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS catalog_history_model_moment",
        )
    ]
