from django.urls import path

from . import views

urlpatterns = [
    path("phases/<uuid:phase_id>/", views.phase_leaderboard, name="phase-leaderboard"),
    path("phases/<uuid:phase_id>/leaderboard.json", views.phase_leaderboard_json,
         name="phase-leaderboard-json"),
]
