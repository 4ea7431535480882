"""The staff groups' permissions on scheduled price changes, as 0003 gave them on the catalog.

Editors schedule (add), cancel (change) and see (view) them; viewers only see them. Nobody
deletes one: a deleted schedule would leave its prices scheduled with no record of why.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = {
    "Catalog editors": ("add", "change", "view"),
    "Catalog viewers": ("view",),
}
MODEL = "priceschedule"


def _permissions(apps, actions):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="catalog",
        codename__in=[f"{action}_{MODEL}" for action in actions],
    )


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for group_name, actions in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(*_permissions(apps, actions))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=PERMISSIONS):
        group.permissions.remove(*_permissions(apps, PERMISSIONS[group.name]))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0012_price_schedules")]

    operations = [migrations.RunPython(grant, revoke)]
