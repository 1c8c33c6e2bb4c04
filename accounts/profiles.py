"""Profile forms: the profile page's, and the profile's fields on the sign-up form (kept apart
from accounts/forms.py, which imports allauth's forms, which import this one by its name)."""

from django import forms

from .models import Profile

PROFILE_FIELDS = ["full_name", "affiliation"]


class ProfileForm(forms.ModelForm):
    """Name, affiliation and mail preferences; the organizer mail choice only for users who
    organize a challenge (the reverse relation: accounts cannot import challenges)."""

    class Meta:
        model = Profile
        fields = [*PROFILE_FIELDS, "notify_results", "organizer_digest"]
        widgets = {"organizer_digest": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.user.organized_challenges.exists():
            del self.fields["organizer_digest"]


class SignupProfileForm(forms.Form):
    """The profile's fields on allauth's sign-up form (``ACCOUNT_SIGNUP_FORM_CLASS``, which
    allauth's form extends: a plain form, the profile is saved once the user exists)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(Profile, fields=PROFILE_FIELDS))

    def signup(self, request, user) -> None:
        Profile.objects.update_or_create(
            user=user, defaults={name: self.cleaned_data[name] for name in PROFILE_FIELDS})
