"""Move the catalog revision with every write to the catalog tables, inside the transaction.

Statement-level triggers (one bump per statement, not per row, so a bulk import costs a few
updates of one row) catch every writer: the admin, the importer, QuerySet.update() in a shell,
raw SQL. The bump commits atomically with the data, so the revision a reader sees always
matches the data it sees. An upsert keeps working after the table is truncated (tests).

The number is the larger of "previous + 1" and the current time in microseconds. It only ever
grows, and it is never reused: after a database restore, a flush, or a rolled-back write, the
next write still gets a number no earlier revision had, so a body cached under a number (in
Redis, say) can never be mistaken for another state of the catalog.
"""

from django.db import migrations

TABLES = ("catalog_servedmodel", "catalog_datacenter", "catalog_servedmodel_datacenters")

CLOCK = """
CREATE OR REPLACE FUNCTION catalog_revision_clock() RETURNS bigint LANGUAGE sql AS $$
    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
$$;
"""

FUNCTION = """
CREATE OR REPLACE FUNCTION catalog_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_catalogrevision (id, number) VALUES (1, catalog_revision_clock())
    ON CONFLICT (id) DO UPDATE SET number = GREATEST(
        catalog_catalogrevision.number + 1, catalog_revision_clock()
    );
    RETURN NULL;
END
$$;
"""

TRIGGER = """
CREATE TRIGGER {table}_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION catalog_bump_revision();
"""

forward = [
    CLOCK,
    FUNCTION,
    "INSERT INTO catalog_catalogrevision (id, number) VALUES (1, catalog_revision_clock()) "
    "ON CONFLICT DO NOTHING;",
]
forward += [TRIGGER.format(table=table) for table in TABLES]
backward = [f"DROP TRIGGER IF EXISTS {table}_bump_revision ON {table};" for table in TABLES]
backward += [
    "DROP FUNCTION IF EXISTS catalog_bump_revision();",
    "DROP FUNCTION IF EXISTS catalog_revision_clock();",
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunSQL(sql=forward, reverse_sql=backward)]
