"""The site's URLs."""

from django.urls import path
from gallery import views

urlpatterns = [
    path("", views.index, name="index"),
    path("health", views.health, name="health"),
    path("thumbnail.png", views.thumbnail, name="thumbnail"),
]
