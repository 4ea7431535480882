"""An index of the history by model id and moment: the record that had an id at a moment is
one step down it, so that a price lookup finds a renamed model by the id it had then
(``catalog.timeline.prices_at``). With the simple-history index of ``model_id`` alone, the
lookup's planned cost passed PostgreSQL's JIT threshold and a batch took over a second.

Raw SQL, built concurrently, as migration 0017's index is.
"""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("catalog", "0017_history_model_moment_index")]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_history_model_id_moment ON "
            "catalog_historicalservedmodel (model_id, history_date DESC, history_id DESC)",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS catalog_history_model_id_moment",
        )
    ]
