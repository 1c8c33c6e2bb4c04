from django.urls import path

from . import views

urlpatterns = [
    path("phases/<uuid:phase_id>/", views.phase_leaderboard, name="phase-leaderboard"),
    path("phases/<uuid:phase_id>/plots/<slug:name>.svg", views.phase_plot, name="phase-plot"),
    path("phases/<uuid:phase_id>/leaderboard.json", views.phase_leaderboard_json,
         name="phase-leaderboard-json"),
    path("phases/<uuid:phase_id>/leaderboard.csv", views.phase_leaderboard_csv,
         name="phase-leaderboard-csv"),
    path("phases/<uuid:phase_id>/cases.csv", views.phase_cases_csv, name="phase-cases-csv"),
    path("phases/<uuid:phase_id>/cases.json", views.phase_cases_json, name="phase-cases-json"),
    path("phases/<uuid:phase_id>/ranking-input.csv", views.phase_ranking_input_csv,
         name="phase-ranking-input-csv"),
    path("challenges/<slug:slug>/leaderboard/", views.challenge_leaderboard,
         name="challenge-leaderboard"),
    path("challenges/<slug:slug>/leaderboard.csv", views.challenge_leaderboard_csv,
         name="challenge-leaderboard-csv"),
    path("challenges/<slug:slug>/leaderboard.json", views.challenge_leaderboard_json,
         name="challenge-leaderboard-json"),
    path("challenges/<slug:slug>/plots/<slug:name>.svg", views.challenge_plot,
         name="challenge-plot"),
    path("challenges/<slug:slug>/evaluation/", views.challenge_evaluation,
         name="challenge-evaluation"),
]
