"""The platform administrator: the one role that is not per challenge (challenges/visibility.py
holds the others)."""


def is_platform_admin(user) -> bool:
    """Whether ``user`` administers the platform: an active superuser. Staff status alone is not
    (it only opens the console, docs/security.md#roles)."""
    return user.is_authenticated and user.is_active and user.is_superuser
