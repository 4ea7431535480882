from django.apps import AppConfig


class RouterConfig(AppConfig):
    name = "router"
    verbose_name = "OpenRouter endpoint"

    def ready(self):
        from django.conf import settings
        from django.contrib import admin
        from django.urls import reverse_lazy

        from catalog.signals import catalog_changed
        from router.cache import catalog_cache

        catalog_changed.connect(
            catalog_cache.on_catalog_changed, dispatch_uid="router-cache-on-catalog-changed"
        )
        # The admin's "View site": the public pages, or no link when they are off.
        admin.site.site_url = (
            reverse_lazy("model-list") if settings.PUBLIC_PAGES else None  # type: ignore[assignment]  # a lazy URL, a str once rendered
        )
