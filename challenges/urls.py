from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("challenges/<slug:slug>/", views.challenge_page, name="challenge"),
    path("challenges/<slug:slug>/join/", views.challenge_join, name="challenge-join"),
    path("challenges/<slug:slug>/team/", views.challenge_team, name="challenge-team"),
]
