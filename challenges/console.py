"""The console (Django's admin) scoped by role: a staff user who is not a platform administrator
sees and changes only the rows of the challenges they organize, whatever Django's model
permissions say; platform administrators (superusers) see the admin unchanged. The rows are
asked of the query layer (:mod:`challenges.visibility`)."""

from functools import cache

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import models
from django.db.models import Q
from django.http import Http404

from .visibility import is_platform_admin, organized_challenges


class ChallengeScopedAdmin(admin.ModelAdmin):
    """An admin of rows that belong to a challenge. ``challenge_paths``: the lookups from the
    model to its challenge (a row belongs to the challenge any of them reaches; ``"pk"`` for
    the challenge itself)."""

    challenge_paths: tuple[str, ...] = ()

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if is_platform_admin(request.user):
            return rows
        organized = organized_challenges(request.user)
        scope = Q()
        for path in self.challenge_paths:
            scope |= Q(**{f"{path}__in": organized})
        return rows.filter(scope)

    def get_object(self, request, object_id, from_field=None):
        """A row out of the organizer's challenges answers 404, as if it did not exist (the
        admin would redirect to its index)."""
        found = super().get_object(request, object_id, from_field)
        if found is None and not is_platform_admin(request.user):
            raise Http404("no such row among the challenges you organize")
        return found

    def _in_scope(self, request, obj=None) -> bool:
        """The role instead of Django's model permissions: organizing a challenge (the row's,
        when there is one)."""
        if is_platform_admin(request.user):
            return True
        if obj is None:
            return organized_challenges(request.user).exists()
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        return self._in_scope(request)

    def has_add_permission(self, request):
        return self._in_scope(request)

    def has_view_permission(self, request, obj=None):
        return self._in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        """Organizers may not delete a row whose deletion would delete submissions (a phase,
        a task): the participants' work and its scores would be gone for good. Platform
        administrators may. The delete action asks this of every row it would delete."""
        if not self._in_scope(request, obj):
            return False
        if obj is None or is_platform_admin(request.user):
            return True
        return not _deletes_submissions(obj)

    def get_readonly_fields(self, request, obj=None):
        """For organizers, relations to rows no challenge scopes (users: a participation's, the
        organizers) are read-only: their choices would list every account."""
        fields = list(super().get_readonly_fields(request, obj))
        if is_platform_admin(request.user):
            return fields
        relations = [field.name for field in [*self.opts.fields, *self.opts.many_to_many]
                     if field.is_relation and field.editable
                     and not self._scoped_admin(field.related_model)]
        return fields + [name for name in relations if name not in fields]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """For organizers, a relation's choices are the rows of their own challenges."""
        related = self._scoped_admin(db_field.related_model)
        if related is not None and not is_platform_admin(request.user):
            kwargs["queryset"] = related.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        """For organizers, a filter on a relation offers only the values their rows have (the
        plain filter would list every challenge's)."""
        filters = super().get_list_filter(request)
        if is_platform_admin(request.user):
            return filters
        return [(entry, admin.RelatedOnlyFieldListFilter)
                if isinstance(entry, str) and self._is_relation(entry) else entry
                for entry in filters]

    def audit(self, request, rows, message: str) -> None:
        """Record an organizer's action on ``rows`` (model instances) in the audit log: one
        entry per row, which its History page shows too (Django's LogEntry, as the admin's own
        adds, changes and deletions). Within an action (:meth:`response_action`) the entries
        are written once it has run, so that each names its row as the action left it
        ("ines in decathlon (accepted)", not the state before)."""
        pending = getattr(request, "_pending_audit", None)
        if pending is not None:
            pending.append((list(rows), message))
        else:
            _log(request, list(rows), message)

    def response_action(self, request, queryset):
        request._pending_audit = []
        response = super().response_action(request, queryset)
        for rows, message in request.__dict__.pop("_pending_audit"):
            _log(request, _reread(rows), message)
        return response

    def _scoped_admin(self, model) -> "ChallengeScopedAdmin | None":
        found = self.admin_site._registry.get(model)
        return found if isinstance(found, ChallengeScopedAdmin) else None

    def _is_relation(self, path: str) -> bool:
        model = self.model
        for name in path.split("__"):
            field = model._meta.get_field(name)
            if not field.is_relation:
                return False
            model = field.related_model
        return True


class RecordAdmin:
    """A console table of records (downloads, the audit log): seen, never added, changed or
    deleted by hand, not even by a platform administrator. Listed before the admin class."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ChallengeScopedInline(admin.TabularInline):
    """An inline seen by whoever may see its parent row."""

    def has_view_permission(self, request, obj=None):
        return self.admin_site._registry[self.parent_model].has_view_permission(request, obj)


def _log(request, rows: list, message: str) -> None:
    LogEntry.objects.log_actions(user_id=request.user.pk, queryset=rows, action_flag=CHANGE,
                                 change_message=message)


def _reread(rows: list) -> list:
    """``rows`` as the database holds them now; a row deleted meanwhile as it was."""
    fresh = {}
    for model in {type(row) for row in rows}:
        keys = [row.pk for row in rows if type(row) is model]
        fresh.update({(model, row.pk): row for row in model._default_manager.filter(pk__in=keys)})
    return [fresh.get((type(row), row.pk), row) for row in rows]


SUBMISSION = ("evaluation", "Submission")


def _deletes_submissions(row) -> bool:
    """Whether deleting ``row`` would delete submissions with it (they reach it by cascading
    foreign keys); never true of a submission itself, whose own admin decides."""
    path = _cascade_path(type(row)._meta.label)
    return path is not None and apps.get_model(*SUBMISSION).objects.filter(
        **{path: row}).exists()


@cache
def _cascade_path(label: str) -> str | None:
    """The lookup from a submission to the model ``label`` over foreign keys that cascade on
    delete ("phase__task"), or None where deleting such a row deletes no submission."""
    start = apps.get_model(*SUBMISSION)
    paths: list[tuple[type[models.Model], str]] = [(start, "")]
    seen = {start}
    while paths:
        model, path = paths.pop(0)
        for field in model._meta.concrete_fields:
            related = field.related_model
            if (not field.many_to_one or related in seen
                    or field.remote_field.on_delete is not models.CASCADE):
                continue
            lookup = f"{path}__{field.name}" if path else field.name
            if related._meta.label == label:
                return lookup
            seen.add(related)
            paths.append((related, lookup))
    return None
