from django.apps import AppConfig


class RouterConfig(AppConfig):
    name = "router"
    verbose_name = "OpenRouter endpoint"

    def ready(self):
        from catalog.signals import catalog_changed
        from router.cache import catalog_cache

        catalog_changed.connect(
            catalog_cache.on_catalog_changed, dispatch_uid="router-cache-on-catalog-changed"
        )
