from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Model catalog"

    def ready(self):
        from catalog import history, signals

        signals.connect_receivers()
        history.connect_receivers()
