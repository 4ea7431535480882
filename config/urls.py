from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz

admin.site.site_header = "Model catalog"
admin.site.site_title = "Model catalog"
admin.site.index_title = "Catalog administration"

urlpatterns = [
    path("", include("router.urls")),
    path("", include("router.pages.urls")),
    path("", include("router.api.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
