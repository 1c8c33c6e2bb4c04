"""URL map. No pattern serves uploads or the ground truth; the test images only to accepted
participants and organizers, by case (challenges/downloads.py)."""

from allauth.account import views as allauth_views
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import token_views
from accounts import views as account_views
from challenges import api as challenge_api
from challenges import resources_api as challenge_resources
from core.api import api_docs
from evaluation import api as evaluation_api
from evaluation import resources_api as evaluation_resources
from evaluation import selection as evaluation_selection
from leaderboard import api as leaderboard_api
from leaderboard import pages_api as leaderboard_pages

api_v1 = [
    path("challenges/", challenge_api.challenge_list, name="api-challenges"),
    path("challenges/<str:key>/", challenge_api.challenge_detail, name="api-challenge"),
    path("challenges/<str:key>/join/", challenge_api.challenge_join, name="api-challenge-join"),
    path("challenges/<str:key>/leaderboard/", leaderboard_api.challenge_leaderboard,
         name="api-challenge-leaderboard"),
    path("phases/<uuid:phase_id>/", challenge_api.phase_detail, name="api-phase"),
    path("phases/<uuid:phase_id>/submissions/", evaluation_api.phase_submissions,
         name="api-phase-submissions"),
    path("phases/<uuid:phase_id>/uploads/", evaluation_api.phase_uploads,
         name="api-phase-uploads"),
    path("uploads/<uuid:upload_id>/", evaluation_api.upload_session, name="api-upload"),
    path("uploads/<uuid:upload_id>/complete/", evaluation_api.upload_complete,
         name="api-upload-complete"),
    path("phases/<uuid:phase_id>/leaderboard/", leaderboard_api.phase_leaderboard,
         name="api-phase-leaderboard"),
    path("submissions/<uuid:submission_id>/", evaluation_api.submission_detail,
         name="api-submission"),
    path("submissions/<uuid:submission_id>/cancel/", evaluation_api.submission_cancel,
         name="api-submission-cancel"),
    path("tokens/", include("accounts.token_api")),  # the caller's API tokens
    # A challenge's organizers: the console's actions (docs/api.md, "Organizer endpoints").
    path("organizer/", include("challenges.organizer_api")),
    path("organizer/", include("challenges.deid_api")),
    path("organizer/", include("podium.organizer_api")),
    path("organizer/", include("leaderboard.organizer_api")),
    path("submissions/<uuid:submission_id>/select/", evaluation_selection.submission_select,
         name="api-submission-select"),
    # Resources (docs/api.md, "Resources"): pages, tasks, participation, teams, evaluations,
    # test data, exports, algorithm images.
    path("challenges/<str:key>/pages/", leaderboard_pages.challenge_pages,
         name="api-challenge-pages"),
    path("challenges/<str:key>/pages/<str:name>/", leaderboard_pages.challenge_page,
         name="api-challenge-page"),
    path("challenges/<str:key>/tasks/", challenge_resources.challenge_tasks,
         name="api-challenge-tasks"),
    path("challenges/<str:key>/tasks/<str:task_key>/", challenge_resources.task_detail,
         name="api-task"),
    path("challenges/<str:key>/participation/", challenge_resources.my_participation,
         name="api-participation"),
    path("challenges/<str:key>/leaderboard/exports/", leaderboard_pages.challenge_exports,
         name="api-challenge-exports"),
    path("teams/<uuid:team_id>/", challenge_resources.team_detail, name="api-team"),
    path("teams/<uuid:team_id>/submissions/", evaluation_resources.team_submissions,
         name="api-team-submissions"),
    path("phases/<uuid:phase_id>/test-data/", challenge_resources.phase_test_data,
         name="api-phase-test-data"),
    path("phases/<uuid:phase_id>/leaderboard/exports/", leaderboard_pages.phase_exports,
         name="api-phase-exports"),
    path("phases/<uuid:phase_id>/algorithm-images/", evaluation_resources.phase_algorithm_images,
         name="api-phase-algorithm-images"),
    path("submissions/<uuid:submission_id>/evaluations/",
         evaluation_resources.submission_evaluations, name="api-submission-evaluations"),
    path("evaluations/<uuid:evaluation_id>/", evaluation_resources.evaluation_detail,
         name="api-evaluation"),
]

# Under /api/ a path no endpoint serves, and a server error, answer the API's JSON error;
# elsewhere the site's page.
handler404 = "core.api.not_found"
handler500 = "core.api.server_error"

urlpatterns = [
    # The admin's own login page, answering 429 while the lockout refuses the login.
    path("admin/login/", account_views.admin_login),
    path("admin/", admin.site.urls),
    # allauth's pages (docs/accounts.md); its login behind the lockout, under the names that
    # LOGIN_URL and the templates use.
    path("accounts/login/", account_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/profile/", account_views.profile, name="profile"),
    path("accounts/tokens/", token_views.tokens, name="api-tokens"),
    path("accounts/tokens/<int:token_id>/revoke/", token_views.revoke, name="api-token-revoke"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    # The OpenAPI schema of api_v1 (YAML, or JSON with ?format=json), and the interactive
    # documentation that reads it, from vendored assets (static/vendor/swagger-ui/).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("", include("challenges.urls")),
    path("", include("evaluation.urls")),
    path("", include("leaderboard.urls")),
]
