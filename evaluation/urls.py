from django.urls import path

from . import views

urlpatterns = [
    path("phases/<uuid:phase_id>/submit/", views.phase_submit, name="phase-submit"),
    path("submissions/<uuid:submission_id>/", views.submission_page, name="submission"),
    path("submissions/<uuid:submission_id>/cancel/", views.submission_cancel,
         name="submission-cancel"),
    path("submissions/<uuid:submission_id>/select/", views.submission_select,
         name="submission-select"),
    path("teams/<uuid:team_id>/", views.team_page, name="team"),
]
