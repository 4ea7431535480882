from django.urls import path

from router.views import OpenRouterModelsView

urlpatterns = [
    path(
        "inference/router/openrouter/models",
        OpenRouterModelsView.as_view(),
        name="openrouter-models",
    ),
]
