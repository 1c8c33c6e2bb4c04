"""URL map. No pattern serves uploads or the ground truth; the test images only to accepted
participants and organizers, by case (challenges/downloads.py)."""

from allauth.account import views as allauth_views
from django.contrib import admin
from django.urls import include, path

from accounts import token_views
from accounts import views as account_views
from challenges import api as challenge_api
from evaluation import api as evaluation_api
from leaderboard import api as leaderboard_api

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
]

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
    path("", include("challenges.urls")),
    path("", include("evaluation.urls")),
    path("", include("leaderboard.urls")),
]
