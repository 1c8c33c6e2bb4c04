"""API tokens without a shell: a user lists, creates and revokes their own tokens on a page.

A new token's key is shown once, in the answer to the request that created it (never stored,
never cached: ``Cache-Control: no-store``); afterwards only its first characters identify it.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .models import ApiToken

MAX_TOKENS = 20
LIFETIMES = [("30", "30 days"), ("90", "90 days"), ("365", "one year"), ("", "never expires")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False,
                           help_text='What the token is for, e.g. "laptop" or "CI".')
    lifetime = forms.ChoiceField(choices=LIFETIMES, initial="90", required=False,
                                 label="Expires after")


@never_cache
@login_required
def tokens(request):
    """The user's tokens; POST creates one and shows its key this once."""
    own = ApiToken.objects.filter(user=request.user)
    form = TokenForm(request.POST or None)
    key = None
    if request.method == "POST" and form.is_valid():
        if own.count() >= MAX_TOKENS:
            form.add_error(None, f"You have {MAX_TOKENS} tokens, the most one may hold; revoke "
                                 "one you no longer use first.")
        else:
            days = form.cleaned_data["lifetime"]
            expires = timezone.now() + timedelta(days=int(days)) if days else None
            _, key = ApiToken.issue(request.user, name=form.cleaned_data["name"],
                                    expires_at=expires)
            form = TokenForm()
    return render(request, "account/tokens.html", {"tokens": own, "form": form, "key": key,
                                                   "now": timezone.now()})


@login_required
@require_POST
def revoke(request, token_id: int):
    """Delete one of the user's own tokens (another user's answers 404)."""
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.prefix}… revoked: it no longer works.")
    return redirect("api-tokens")
