"""The two staff groups: "Catalog editors" change the catalog, "Catalog viewers" only look."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Catalog editors": ("add", "change", "delete", "view"),
    "Catalog viewers": ("view",),
}
MODELS = ("servedmodel", "datacenter")


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, actions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        codenames = [f"{action}_{model}" for action in actions for model in MODELS]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames)
        )


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_revision_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
