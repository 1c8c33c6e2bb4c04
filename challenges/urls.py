from django.urls import path

from . import config_export, download_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("challenges/<slug:slug>/", views.challenge_page, name="challenge"),
    path("challenges/<slug:slug>/rules/", views.challenge_rules, name="challenge-rules"),
    path("challenges/<slug:slug>/data/", views.challenge_data, name="challenge-data"),
    path("challenges/<slug:slug>/timeline/", views.challenge_timeline,
         name="challenge-timeline"),
    path("challenges/<slug:slug>/organizers/", views.challenge_organizers,
         name="challenge-organizers"),
    path("challenges/<slug:slug>/citation/", views.challenge_citation,
         name="challenge-citation"),
    path("challenges/<slug:slug>/join/", views.challenge_join, name="challenge-join"),
    path("challenges/<slug:slug>/team/", views.challenge_team, name="challenge-team"),
    path("phases/<uuid:phase_id>/config.json", config_export.phase_config_json,
         name="phase-config-json"),
    path("tasks/<uuid:task_id>/data/", download_views.task_data, name="task-data"),
    path("tasks/<uuid:task_id>/images.zip", download_views.task_archive, name="task-archive"),
    path("tasks/<uuid:task_id>/images/<str:file_name>", download_views.task_image,
         name="task-image"),
    path("tasks/<uuid:task_id>/training/<uuid:item_id>/", download_views.training_data,
         name="task-training-data"),
]
