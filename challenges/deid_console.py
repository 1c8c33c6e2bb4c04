"""The console's de-identification reviews (challenges/deid_gate.py): each task's findings per
file, "Accept these findings" (a reason required) and "Re-check", both in the audit log.
Registered by challenges/admin.py."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from core.errors import InvalidInput

from . import deid_gate
from .console import ChallengeScopedAdmin, RecordAdmin
from .models import DeidReview

ACCEPT_MESSAGE = "Accepted {count} de-identification finding(s) of {task}: {reason}"
RECHECK_MESSAGE = "Re-checked the test images of {task}: {status}, {count} finding(s)."


@admin.register(DeidReview)
class DeidReviewAdmin(RecordAdmin, ChallengeScopedAdmin):
    """Read-only rows; the two actions are buttons of the row's page (POST only)."""

    challenge_paths = ("task__challenge",)
    list_display = ["task", "status", "finding_count", "files_checked", "checked_at",
                    "accepted_by", "accepted_at"]
    list_filter = ["status", "task__challenge"]
    list_select_related = ["task__challenge", "accepted_by"]
    search_fields = ["task__key", "accepted_reason"]
    fields = ["task", "status", "files_checked", "finding_count", "checked_at", "accepted_by",
              "accepted_at", "accepted_reason"]
    readonly_fields = fields

    def get_urls(self):
        return [path("<path:object_id>/accept/",
                     self.admin_site.admin_view(require_POST(self.accept_view)),
                     name="challenges_deidreview_accept"),
                path("<path:object_id>/recheck/",
                     self.admin_site.admin_view(require_POST(self.recheck_view)),
                     name="challenges_deidreview_recheck"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The row's page, checked first if it never was (or its images changed): the findings
        grouped by file and the two buttons."""
        review = self._review(request, object_id)
        review = deid_gate.current_review(review.task) or review
        context = {**(extra_context or {}),
                   "findings_by_file": deid_gate.findings_by_file(review),
                   "review": review,
                   "findings_cut": review.finding_count - len(review.findings),
                   "may_act": self._in_scope(request, review)}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def accept_view(self, request, object_id):
        review = self._acting_on(request, object_id)
        reason = request.POST.get("reason", "")
        try:
            review = deid_gate.accept(review, request.user, reason)
        except InvalidInput as exc:
            self.message_user(request, f"Not accepted: {exc}.", messages.ERROR)
            return redirect(self._page(review))
        self.audit(request, [review], ACCEPT_MESSAGE.format(
            count=review.finding_count, task=review.task.key, reason=review.accepted_reason))
        self.message_user(request, f"The findings are accepted: participants of "
                                   f"{review.task.key} can have its test images.")
        return redirect(self._page(review))

    def recheck_view(self, request, object_id):
        review = deid_gate.check_task(self._acting_on(request, object_id).task)
        message = RECHECK_MESSAGE.format(task=review.task.key, count=review.finding_count,
                                         status=review.get_status_display().lower())
        self.audit(request, [review], message)
        self.message_user(request, message)
        return redirect(self._page(review))

    def _review(self, request, object_id) -> DeidReview:
        review = self.get_object(request, object_id)  # 404 outside the user's challenges
        if review is None or not self.has_view_permission(request, review):
            raise PermissionDenied
        return review

    def _acting_on(self, request, object_id) -> DeidReview:
        review = self._review(request, object_id)
        if not self._in_scope(request, review):
            raise PermissionDenied
        return review

    @staticmethod
    def _page(review: DeidReview) -> str:
        return reverse("admin:challenges_deidreview_change", args=[review.pk])
