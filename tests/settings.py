"""Test settings: podium.settings in a fresh data folder per test session.

The folder is created before podium.settings reads PODIUM_DATA_DIR, and handed to the Celery
worker processes the integration tests start, so they share uploads, private storage, the
SQLite test database and the filesystem broker with the test process.
"""

import os
import tempfile

os.environ.setdefault("PODIUM_DATA_DIR", tempfile.mkdtemp(prefix="podium-test-"))
# The integration tests poll the API; the throttling tests set their own rates.
os.environ.setdefault("PODIUM_API_THROTTLE_ANON", "1000000/hour")
os.environ.setdefault("PODIUM_API_THROTTLE_USER", "1000000/hour")
os.environ.setdefault("PODIUM_API_THROTTLE_SUBMIT", "1000000/hour")
os.environ.setdefault("PODIUM_SECRET_KEY", "tests-only-secret-key-not-for-production-use-000000")

from podium.settings import *  # noqa: F403

# Hashing demo passwords slowly only slows the tests down.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405  (no collectstatic before the tests)
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns otherwise)
