"""Drop the five price columns and the four lists, now held by the offering tables (0010).

Their constraints went in 0010, before the data moved: backwards, this migration brings the
columns back empty, 0010 fills them, and only then are their constraints checked again.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0010_offering_data"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="input_modalities",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="output_modalities",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="price_completion",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="price_image",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="price_input_cache_read",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="price_prompt",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="price_request",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="supported_features",
        ),
        migrations.RemoveField(
            model_name="historicalservedmodel",
            name="supported_sampling_parameters",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="input_modalities",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="output_modalities",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="price_completion",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="price_image",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="price_input_cache_read",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="price_prompt",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="price_request",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="supported_features",
        ),
        migrations.RemoveField(
            model_name="servedmodel",
            name="supported_sampling_parameters",
        ),
    ]
