from django.urls import path, re_path

from router.api import views

urlpatterns = [
    # Any characters, line breaks too: an id that cannot exist is a JSON 404 like any other.
    re_path(
        r"^api/v1/models/(?P<model_id>(?s:.+))/prices$",
        views.ModelPricesView.as_view(),
        name="api-model-prices",
    ),
    path("api/v1/prices", views.PricesAtView.as_view(), name="api-prices"),
    path("api/v1/prices/lookup", views.PriceLookupView.as_view(), name="api-price-lookup"),
    path("api/v1/changes", views.ChangesView.as_view(), name="api-changes"),
    path("api/v1/changes.atom", views.ChangesAtomView.as_view(), name="api-changes-atom"),
]
