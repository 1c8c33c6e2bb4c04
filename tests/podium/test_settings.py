"""The one settings module: embedded default with no environment, production from variables."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"),
    "broker": settings.CELERY_BROKER_URL,
    "broker_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    "uploads": settings.STORAGES["default"]["BACKEND"],
    "private": settings.STORAGES["private"]["BACKEND"],
    "private_options": {k: str(v) for k, v in settings.STORAGES["private"]["OPTIONS"].items()},
    "debug": settings.DEBUG,
    "cache": settings.CACHES["default"],
    "rates": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"],
}, default=str))
"""


def probe(tmp_path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PODIUM_", "DATABASE_", "CELERY_"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "podium.settings",
                  "PODIUM_DATA_DIR": str(tmp_path), **env})
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_no_environment_means_sqlite_and_filesystem_broker_in_the_data_folder(tmp_path):
    got = probe(tmp_path)
    assert got["engine"] == "django.db.backends.sqlite3"
    assert got["name"] == str(tmp_path / "podium.sqlite3")
    assert got["broker"] == "podiumfs://"
    assert got["broker_options"]["data_folder_in"] == str(tmp_path / "broker" / "queue")
    assert got["uploads"] == got["private"] == "django.core.files.storage.FileSystemStorage"
    assert got["private_options"]["location"] == str(tmp_path / "private")
    assert got["private_options"]["base_url"] == "None"  # no URL serves it
    assert got["debug"] is False
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    # Shared by every web process and worker, not one process's memory.
    assert got["cache"]["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert got["cache"]["LOCATION"] == str(tmp_path / "cache")
    assert got["rates"] == {"anon": "100/hour", "user": "1000/hour", "submit": "60/hour",
                            "upload_chunk": "20000/hour"}
    assert got["num_proxies"] == 0


def test_environment_switches_to_postgres_redis_and_s3(tmp_path):
    got = probe(tmp_path, DATABASE_URL="postgres://u:p@db.example:5432/podium",
                CELERY_BROKER_URL="redis://cache.example:6379/0", PODIUM_STORAGE="s3",
                PODIUM_S3_UPLOADS_BUCKET="up", PODIUM_S3_PRIVATE_BUCKET="gt")
    assert got["engine"] == "django.db.backends.postgresql"
    assert got["host"] == "db.example" and got["name"] == "podium"
    assert got["broker"] == "redis://cache.example:6379/0" and got["broker_options"] == {}
    assert got["uploads"] == got["private"] == "storages.backends.s3.S3Storage"
    assert got["private_options"]["bucket_name"] == "gt"
    assert got["private_options"]["default_acl"] == "private"


def test_environment_sets_the_cache_and_the_api_rates(tmp_path):
    got = probe(tmp_path, PODIUM_CACHE_URL="redis://cache.example:6379/1",
                PODIUM_API_THROTTLE_ANON="10/minute", PODIUM_API_THROTTLE_USER="50/minute",
                PODIUM_API_THROTTLE_SUBMIT="5/hour", PODIUM_API_THROTTLE_UPLOAD_CHUNK="99/hour",
                PODIUM_NUM_PROXIES="1")
    assert got["cache"] == {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": "redis://cache.example:6379/1"}
    assert got["rates"] == {"anon": "10/minute", "user": "50/minute", "submit": "5/hour",
                            "upload_chunk": "99/hour"}
    assert got["num_proxies"] == 1
