"""Move the catalog revision with every write to the catalog tables, inside the transaction.

Statement-level triggers (one bump per statement, not per row, so a bulk import costs a few
updates of one row) catch every writer: the admin, the importer, QuerySet.update() in a shell,
raw SQL. The bump commits atomically with the data, so the revision a reader sees always
matches the data it sees. An upsert keeps working after the table is truncated (tests).
"""

from django.db import migrations

TABLES = ("catalog_servedmodel", "catalog_datacenter", "catalog_servedmodel_datacenters")

FUNCTION = """
CREATE OR REPLACE FUNCTION catalog_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_catalogrevision (id, number) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET number = catalog_catalogrevision.number + 1;
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
    FUNCTION,
    "INSERT INTO catalog_catalogrevision (id, number) VALUES (1, 1) ON CONFLICT DO NOTHING;",
]
forward += [TRIGGER.format(table=table) for table in TABLES]
backward = [f"DROP TRIGGER IF EXISTS {table}_bump_revision ON {table};" for table in TABLES]
backward += ["DROP FUNCTION IF EXISTS catalog_bump_revision();"]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunSQL(sql=forward, reverse_sql=backward)]
