from django.urls import path

from router.pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("models/", views.model_list, name="model-list"),
    # Model ids hold slashes: meta-llama/Llama-3.3-70B-Instruct.
    path("models/<path:model_id>/", views.model_page, name="model-page"),
]
