"""The revision triggers also announce the new number: NOTIFY catalog_revision, '<number>'.

PostgreSQL delivers a notification only when (and if) its transaction commits, to every session
of this database that has run LISTEN catalog_revision, in commit order. Each process of the
router listens (router/listener.py) and so learns of every committed change without asking. The
payload is the number the statement set; a transaction of several statements sends several,
and the listener keeps the highest.
"""

from django.db import migrations

from catalog.revision import CHANNEL

NOTIFYING = f"""
CREATE OR REPLACE FUNCTION catalog_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped bigint;
BEGIN
    INSERT INTO catalog_catalogrevision (id, number) VALUES (1, catalog_revision_clock())
    ON CONFLICT (id) DO UPDATE SET number = GREATEST(
        catalog_catalogrevision.number + 1, catalog_revision_clock()
    )
    RETURNING number INTO bumped;
    PERFORM pg_notify('{CHANNEL}', bumped::text);
    RETURN NULL;
END
$$;
"""

# Migration 0002's function, as it was.
SILENT = """
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


class Migration(migrations.Migration):
    dependencies = [("catalog", "0007_no_invisible_characters")]

    operations = [migrations.RunSQL(sql=NOTIFYING, reverse_sql=SILENT)]
