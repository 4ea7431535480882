from django.urls import path

from router.api import views

urlpatterns = [
    path(
        "api/v1/models/<path:model_id>/prices",
        views.ModelPricesView.as_view(),
        name="api-model-prices",
    ),
    path("api/v1/prices", views.PricesAtView.as_view(), name="api-prices"),
    path("api/v1/prices/lookup", views.PriceLookupView.as_view(), name="api-price-lookup"),
    path("api/v1/changes", views.ChangesView.as_view(), name="api-changes"),
    path("api/v1/changes.atom", views.ChangesAtomView.as_view(), name="api-changes-atom"),
]
