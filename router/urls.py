from django.urls import path

from router.views import OpenRouterModelsView

# The contract's path; router.middleware and router.wsgi match requests against it too.
ENDPOINT_PATH = "inference/router/openrouter/models"

urlpatterns = [
    path(ENDPOINT_PATH, OpenRouterModelsView.as_view(), name="openrouter-models"),
]
