"""IDs and names refuse invisible characters (catalog.validators.INVISIBLE_CHARACTER_RANGES).

Rows stored before the rule lose those characters first: from a name they are simply removed; an
ID loses them too, unless what remains is empty or another model's ID (an invisible look-alike
of a real model), which only staff can settle: the migration then stops, naming both, and
changes nothing. The removal leaves no history record (migrations write around the history
library); the revision triggers still move the catalog's revision, so the endpoint serves it.
"""

import logging
import re

from django.core.management.base import CommandError
from django.db import migrations, models

logger = logging.getLogger(__name__)

# catalog.validators.INVISIBLE_CHARACTERS_PATTERN as it was when this migration was written.
INVISIBLE_CHARACTERS_PATTERN = "[\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2\\u115f-\\u1160\\u17b4-\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\u2800\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0000-\\U000e0fff]"


def remove_invisible_characters(apps, schema_editor):
    ServedModel = apps.get_model("catalog", "ServedModel")
    invisible = re.compile(INVISIBLE_CHARACTERS_PATTERN)
    affected = ServedModel.objects.filter(
        models.Q(model_id__regex=INVISIBLE_CHARACTERS_PATTERN)
        | models.Q(name__regex=INVISIBLE_CHARACTERS_PATTERN)
    ).order_by("pk")
    taken = set(ServedModel.objects.values_list("model_id", flat=True))
    for model in affected:
        model_id = invisible.sub("", model.model_id)
        if model_id != model.model_id:
            if not model_id or model_id in taken:
                # migrate prints a CommandError as one line, without a traceback.
                raise CommandError(
                    f"Served model {model.model_id!r} (pk {model.pk}) has invisible characters "
                    f"in its ID, and without them it would be {model_id!r}, "
                    + ("which is empty" if not model_id else "another model's ID")
                    + ": rename or delete one of them in the admin, then migrate again."
                )
            taken.add(model_id)
        # A name of nothing but invisible characters falls back to the ID's last part.
        name = invisible.sub("", model.name).strip() or model_id.rsplit("/", 1)[-1]
        ServedModel.objects.filter(pk=model.pk).update(model_id=model_id, name=name)
        logger.warning(
            "Served model %r: invisible characters removed, now ID %r, name %r.",
            model.model_id,
            model_id,
            name,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_choice_labels"),
    ]

    operations = [
        migrations.RunPython(remove_invisible_characters, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="servedmodel",
            constraint=models.CheckConstraint(
                condition=~models.Q(model_id__regex=INVISIBLE_CHARACTERS_PATTERN),
                name="servedmodel_model_id_no_invisible",
            ),
        ),
        migrations.AddConstraint(
            model_name="servedmodel",
            constraint=models.CheckConstraint(
                condition=~models.Q(name__regex=INVISIBLE_CHARACTERS_PATTERN),
                name="servedmodel_name_no_invisible",
            ),
        ),
    ]
