"""Podium's one settings module, driven by environment variables.

With no environment at all it runs the embedded default: SQLite and a filesystem Celery broker in
a local data folder (``var/`` beside the checkout, or ``PODIUM_DATA_DIR``). Production sets
``DATABASE_URL``, ``CELERY_BROKER_URL``, the storage variables and ``PODIUM_SECRET_KEY``.
See docs/configuration.md for every variable.
"""

import json
import os
import secrets
import stat
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from evaluation import task_names as evaluation_tasks
from leaderboard import task_names as leaderboard_tasks

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# Files at rest: whatever Podium writes (database, hidden labels, uploads, broker messages,
# scratch files) is its own user's only. The few files an algorithm container must read are
# given their modes explicitly (evaluation/services/algorithm.py, evaluation/runners/collect.py).
os.umask(0o077)


def private_dir(path: Path) -> Path:
    """``path``, created if missing and made mode 0700 (also when it existed with another)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)
    return path


# While ./run.sh serves, it records its data folder here, so that manage.py and anything else
# started without PODIUM_DATA_DIR find the running server's data, not an empty var/.
RECORDED_DATA_DIR = BASE_DIR / "var" / "data_dir"


def _data_dir() -> Path:
    """PODIUM_DATA_DIR; else the folder ./run.sh recorded (if it still exists); else ``var/``
    beside the checkout."""
    if env("PODIUM_DATA_DIR"):
        return Path(env("PODIUM_DATA_DIR"))
    recorded = (RECORDED_DATA_DIR.read_text(encoding="utf-8").strip()
                if RECORDED_DATA_DIR.is_file() else "")
    return Path(recorded) if recorded and Path(recorded).is_dir() else BASE_DIR / "var"


DATA_DIR = private_dir(_data_dir().resolve())


def _secret_key() -> str:
    """The key from the environment; else one generated once and kept in the data folder."""
    if env("PODIUM_SECRET_KEY"):
        return env("PODIUM_SECRET_KEY")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("PODIUM_DEBUG")
ALLOWED_HOSTS = [
    h for h in env("PODIUM_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in env("PODIUM_CSRF_TRUSTED_ORIGINS").split(",") if o]
# Behind a TLS-terminating proxy: PODIUM_HTTPS=1 marks cookies Secure, redirects HTTP and sends
# HSTS; the proxy must set X-Forwarded-Proto.
if env_bool("PODIUM_HTTPS"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    # The __Host- prefix: the browser accepts these cookies only from this very host over
    # HTTPS, so a sibling subdomain cannot plant a session or CSRF cookie for it.
    SESSION_COOKIE_NAME, CSRF_COOKIE_NAME = "__Host-sessionid", "__Host-csrftoken"
    SECURE_HSTS_SECONDS = env_int("PODIUM_HSTS_SECONDS", 31536000)
    # Covers subdomains of Podium's own host name only (podium.example.org's, not example.org's).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading commits a whole registrable domain to HTTPS in every browser, for months: the
    # domain's owner decides (PODIUM_HSTS_PRELOAD=1), so Django's reminder is silenced otherwise.
    SECURE_HSTS_PRELOAD = env_bool("PODIUM_HSTS_PRELOAD")
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Sent by podium.middleware on every response. No 'unsafe-inline': pages load their scripts and
# styles as static files, so injected markup can neither run script nor restyle a page.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",  # the OpenAPI schema of the REST API (/api/schema/, docs/api.md)
    "allauth",  # sign-up, email verification, password reset (docs/accounts.md)
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "core",  # template tags shared by every app (core/templatetags)
    "accounts",
    "challenges",
    "evaluation",
    "leaderboard",
    "podium",  # the organizer console for what spans the apps (podium/admin.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # BREACH: Django pads compressed bodies with random bytes and masks CSRF tokens per response
    # (docs/leaderboard.md, "Performance").
    "core.middleware.PageGZipMiddleware",  # GZip, except file downloads (core/middleware.py)
    "podium.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "podium.urls"
WSGI_APPLICATION = "podium.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
if env("DATABASE_URL"):
    # A kept connection is checked before each request reuses it: one the server dropped (a
    # failover, pg_terminate_backend) is replaced instead of failing the request.
    DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL"), conn_max_age=60,
                                              conn_health_checks=True)}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "podium.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # The web process and workers write concurrently: WAL lets readers go on, and IMMEDIATE
        # transactions take the write lock up front instead of failing midway.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a worker process started by a test can open the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    # A database created before the umask above: SQLite gives the -wal and -shm files the
    # database file's mode, so tightening the database file is enough.
    if Path(DATABASES["default"]["NAME"]).exists():
        Path(DATABASES["default"]["NAME"]).chmod(0o600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- accounts and email (docs/accounts.md) -------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",  # login by email address too
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}  # behind the lockout (accounts/lockout.py)
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.profiles.SignupProfileForm"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = True  # as before allauth: a login lasts past closing the browser
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Podium] "
# Failed logins are counted by the lockout, which answers 429 on every login page alike.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
SOCIALACCOUNT_EMAIL_REQUIRED = True


def _oidc_providers() -> list[dict]:
    """OpenID Connect identity providers from ``PODIUM_OIDC_PROVIDERS``: a JSON list of
    ``{"id", "name", "client_id", "secret", "server_url"}`` (none when unset)."""
    return [
        {"provider_id": idp["id"], "name": idp["name"], "client_id": idp["client_id"],
         "secret": idp["secret"], "settings": {"server_url": idp["server_url"]}}
        for idp in json.loads(env("PODIUM_OIDC_PROVIDERS") or "[]")
    ]


SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": _oidc_providers(),
                                              "OAUTH_PKCE_ENABLED": True}}

# Email: SMTP once PODIUM_EMAIL_HOST is set; otherwise each message is a file in the data folder.
EMAIL_HOST = env("PODIUM_EMAIL_HOST")
EMAIL_BACKEND = env("PODIUM_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
                    if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend")
MAIL_DIR = DATA_DIR / "mail"
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_FILE_PATH = str(private_dir(MAIL_DIR))
EMAIL_PORT = env_int("PODIUM_EMAIL_PORT", 25)
EMAIL_HOST_USER = env("PODIUM_EMAIL_USER")
EMAIL_HOST_PASSWORD = env("PODIUM_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("PODIUM_EMAIL_USE_TLS")  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("PODIUM_EMAIL_USE_SSL")  # TLS from the start, usually port 465
EMAIL_TIMEOUT = env_int("PODIUM_EMAIL_TIMEOUT_S", 30)
DEFAULT_FROM_EMAIL = SERVER_EMAIL = env("PODIUM_DEFAULT_FROM_EMAIL", "Podium <podium@localhost>")
# Links in mails sent by workers, which have no request to take the host from.
PODIUM_BASE_URL = env("PODIUM_BASE_URL", "http://127.0.0.1:8000")

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["podium.formats"]  # one date format everywhere, the console included
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------------------------
# Three locations, all through Django's storage API so S3 is a setting: public static files;
# participant uploads (served by no URL); and the private store of hidden ground truth and test
# images, in its own location (bucket) that no URL pattern serves.
STATIC_URL = "static/"
STATIC_ROOT = Path(env("PODIUM_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
UPLOADS_DIR = DATA_DIR / "uploads"
PRIVATE_DIR = DATA_DIR / "private"
WORK_DIR = Path(env("PODIUM_WORK_DIR", str(DATA_DIR / "work")))

# What every S3 storage of Podium's sets, whatever its bucket and endpoint (the tests' S3
# fixtures build their storages from it too).
S3_STORAGE_OPTIONS = {
    "default_acl": "private",
    "querystring_auth": True,
    # Signature version 4: the only one AWS regions opened since 2014 (and buckets created
    # since 2020) accept; without it boto3 may sign URLs in the old version 2 form.
    "signature_version": "s3v4",
    "file_overwrite": False,
    # Stored files are opaque bytes: without a type, django-storages guesses one from the
    # name and marks a .nii.gz "Content-Encoding: gzip", so an HTTP client fetching a
    # signed URL unpacks it and saves a plain NIfTI under a .gz name.
    "object_parameters": {"ContentType": "application/octet-stream"},
}

if env("PODIUM_STORAGE") == "s3":
    _s3_common = {
        **S3_STORAGE_OPTIONS,
        "region_name": env("PODIUM_S3_REGION") or None,
        "endpoint_url": env("PODIUM_S3_ENDPOINT_URL") or None,
    }
    _uploads = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3_common, "bucket_name": env("PODIUM_S3_UPLOADS_BUCKET")},
    }
    _private = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3_common, "bucket_name": env("PODIUM_S3_PRIVATE_BUCKET")},
    }
else:
    _modes = {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}
    _uploads = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": private_dir(UPLOADS_DIR), "base_url": None, **_modes},
    }
    _private = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": private_dir(PRIVATE_DIR), "base_url": None, **_modes},
    }

STORAGES = {
    "default": _uploads,
    "private": _private,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
FILE_UPLOAD_HANDLERS = ["podium.uploads.CappedUploadHandler"]
FILE_UPLOAD_TEMP_DIR = str(private_dir(WORK_DIR))
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Uploads in chunks (evaluation/uploads.py, docs/api.md): each chunk request is streamed in
# blocks to a partial file in a private folder no URL serves, never read into memory whole, so
# DATA_UPLOAD_MAX_MEMORY_SIZE goes on bounding every other body. A chunk is at most
# PODIUM_UPLOAD_CHUNK_BYTES (what the page sends); a session expires that many hours after its
# last chunk; a user has at most PODIUM_UPLOAD_SESSIONS_PER_USER unfinished at once.
PODIUM_UPLOAD_PARTIAL_DIR = DATA_DIR / "partial"
PODIUM_UPLOAD_CHUNK_BYTES = env_int("PODIUM_UPLOAD_CHUNK_BYTES", 16 * 1024**2)
PODIUM_UPLOAD_SESSION_HOURS = env_int("PODIUM_UPLOAD_SESSION_HOURS", 24)
PODIUM_UPLOAD_SESSIONS_PER_USER = env_int("PODIUM_UPLOAD_SESSIONS_PER_USER", 3)

# --- Celery ---------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport (podium/broker.py explains the fixes it needs).
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "podiumfs://")
if CELERY_BROKER_URL.startswith("podiumfs://"):
    private_dir(BROKER_DIR)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "claimed"),
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.1,
    }
    if CELERY_BROKER_URL.startswith("podiumfs://")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Celery beat, the one scheduler of every deployment (`worker -B` in run.sh, the `beat` service
# in compose, docs/reliability.md): the reaper and the leaderboard healer every
# PODIUM_REAPER_INTERVAL_S, the organizers' daily digest at PODIUM_DIGEST_HOUR (UTC).
CELERY_BEAT_SCHEDULE = {
    "reaper": {"task": evaluation_tasks.REAP,
               "schedule": float(env_int("PODIUM_REAPER_INTERVAL_S", 60))},
    "leaderboard-healer": {"task": leaderboard_tasks.HEAL,
                           "schedule": float(env_int("PODIUM_REAPER_INTERVAL_S", 60))},
    "daily-digest": {
        "task": evaluation_tasks.SEND_DIGESTS,
        "schedule": crontab(minute=0, hour=env_int("PODIUM_DIGEST_HOUR", 7)),
    },
}
# A message that cannot be published is tried 5 times over about 4 s before the sender gives
# up (a submission is then refused with 503: docs/reliability.md).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 4, "interval_start": 0.2,
                                    "interval_step": 0.5, "interval_max": 2}
CELERY_TASK_ALWAYS_EAGER = env_bool("PODIUM_CELERY_EAGER")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Bodies are JSON objects (another type answers 415); the endpoints taking files name
    # their own parsers (multipart, or the raw chunks of an upload).
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser"],
    # Per user, per address for anonymous clients, and stricter for sending submissions
    # (core.api.SubmitRateThrottle). Counted in the cache below.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("PODIUM_API_THROTTLE_ANON", "100/hour"),
        "user": env("PODIUM_API_THROTTLE_USER", "1000/hour"),
        "submit": env("PODIUM_API_THROTTLE_SUBMIT", "60/hour"),
        "upload_chunk": env("PODIUM_API_THROTTLE_UPLOAD_CHUNK", "20000/hour"),
    },
    # How many proxies in front of Podium append to X-Forwarded-For: 0 believes only the
    # connection's address (a client could otherwise choose its own throttle bucket).
    "NUM_PROXIES": env_int("PODIUM_NUM_PROXIES", 0),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema at /api/schema/, shown at /api/docs/ (docs/api.md).
SPECTACULAR_SETTINGS = {
    "TITLE": "Podium REST API",
    "DESCRIPTION": "Challenges, phases, submissions and leaderboards of this Podium server. "
                   "Errors answer {\"detail\": message}; lists come in pages.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Request and response shapes are separate components, so a field the server fills in is
    # never asked of a client.
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    # One name per choice set: "state" and "status" each name several (docs/api.md).
    "ENUM_NAME_OVERRIDES": {
        "SubmissionStateEnum": "evaluation.models.State",
        "SubmittedStateEnum": ["validating", "queued"],
        "ParticipationStatusEnum": "challenges.models.Participation.STATUSES",
        "PhaseStatusEnum": ["open", "closed", "held"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.retry_after_on_429",
    ],
}

# --- cache ----------------------------------------------------------------------------------
# The API throttles and the leaderboard plots count on one cache shared by every web process and
# worker: Redis in production, files in the data folder by default.
if env("PODIUM_CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": env("PODIUM_CACHE_URL")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(DATA_DIR / "cache"),
                          "OPTIONS": {"MAX_ENTRIES": 10000}}}

# --- logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("PODIUM_LOG_LEVEL", "INFO")},
}

# --- Podium ---------------------------------------------------------------------------------
# Upload caps: a prediction archive is hostile until validated (core/archives.py).
PODIUM_UPLOAD_MAX_BYTES = env_int("PODIUM_UPLOAD_MAX_BYTES", 8 * 1024**3)
PODIUM_ARCHIVE_MAX_MEMBERS = env_int("PODIUM_ARCHIVE_MAX_MEMBERS", 5000)
PODIUM_ARCHIVE_MAX_TOTAL_BYTES = env_int("PODIUM_ARCHIVE_MAX_TOTAL_BYTES", 8 * 1024**3)
# Deflate cannot exceed about 1032:1, so a higher ratio can only come from a crafted archive.
PODIUM_ARCHIVE_MAX_RATIO = env_int("PODIUM_ARCHIVE_MAX_RATIO", 1100)
# Worker liveness: a running evaluation writes a heartbeat after every case; the reaper re-queues
# (up to PODIUM_MAX_ATTEMPTS) or fails evaluations whose heartbeat is older than the timeout.
PODIUM_HEARTBEAT_TIMEOUT_S = env_int("PODIUM_HEARTBEAT_TIMEOUT_S", 300)
PODIUM_REAPER_INTERVAL_S = env_int("PODIUM_REAPER_INTERVAL_S", 60)
PODIUM_MAX_ATTEMPTS = env_int("PODIUM_MAX_ATTEMPTS", 3)
# Waiting work whose message may be lost is sent again after this long; a message sent twice
# is harmless (a task claims only waiting work), so the default is short (docs/reliability.md).
PODIUM_REQUEUE_QUEUED_AFTER_S = env_int("PODIUM_REQUEUE_QUEUED_AFTER_S", 120)
# Transient faults inside a task (database connection dropped, storage read failed) are retried
# this many times, after 1, 2, 4, ... s, before the evaluation is left to the reaper or failed.
PODIUM_TRANSIENT_RETRIES = env_int("PODIUM_TRANSIENT_RETRIES", 4)
# Decoded hidden label maps each worker process keeps between evaluations (0: none).
PODIUM_REFERENCE_CACHE_BYTES = env_int("PODIUM_REFERENCE_CACHE_BYTES", 512 * 1024**2)
# A leaderboard refresh asked for but never started (its message lost) is asked for again.
PODIUM_REFRESH_RESEND_AFTER_S = env_int("PODIUM_REFRESH_RESEND_AFTER_S", 120)
# A larger segmentation submission is scored in shards of this many cases, by every free worker.
# Each shard has a fixed cost (taking it, starting the reader, its last transaction); 32 cases
# keep it small while a submission of more than 32 cases still spreads over workers
# (benchmarks/pipeline.py on 2 cores: 13–19 % outside the scorer with 32, 20–33 % with 16).
PODIUM_SCORING_SHARD_CASES = env_int("PODIUM_SCORING_SHARD_CASES", 32)
# Algorithm containers (docs/runner.md). The engine is DOCKER_HOST (read by docker-py); each GPU
# worker process owns the GPU in PODIUM_GPU_INDEX.
PODIUM_RUNNER_BACKEND = env("PODIUM_RUNNER_BACKEND", "docker_api")
PODIUM_RUNNER_NAME_PREFIX = env("PODIUM_RUNNER_NAME_PREFIX", "podium-")
PODIUM_IMAGE_MAX_BYTES = env_int("PODIUM_IMAGE_MAX_BYTES", 20 * 1024**3)
# The Kubernetes Jobs backend (PODIUM_RUNNER_BACKEND=kubernetes; docs/kubernetes.md): runs go
# to PODIUM_K8S_NAMESPACE, pull algorithm images from PODIUM_K8S_IMAGE_REPOSITORY (pushed there
# with skopeo), and move inputs and outputs through PODIUM_K8S_BUCKET by signed URLs; the pod may
# reach only PODIUM_K8S_STORAGE_CIDR, and only while its helpers download or upload.
PODIUM_K8S_OPTIONS = {
    "namespace": env("PODIUM_K8S_NAMESPACE", "podium-runs"),
    "kubeconfig": env("PODIUM_K8S_KUBECONFIG") or None,
    "image_repository": env("PODIUM_K8S_IMAGE_REPOSITORY"),
    "image_pull_secret": env("PODIUM_K8S_IMAGE_PULL_SECRET"),
    "helper_image": env("PODIUM_K8S_HELPER_IMAGE"),
    "bucket": env("PODIUM_K8S_BUCKET"),
    "storage_endpoint": env("PODIUM_K8S_STORAGE_ENDPOINT", env("PODIUM_S3_ENDPOINT_URL")),
    "region": env("PODIUM_S3_REGION") or None,
    "storage_cidr": env("PODIUM_K8S_STORAGE_CIDR"),
    "storage_port": env_int("PODIUM_K8S_STORAGE_PORT", 443),
    "staging_s": env_int("PODIUM_K8S_STAGING_S", 600),
    "ttl_after_finished_s": env_int("PODIUM_K8S_TTL_S", 3600),
}
# Login lockout (accounts/lockout.py): this many failed logins of one username from one address,
# each within the cool-off of the previous, refuse that pair until the cool-off has passed.
PODIUM_LOGIN_FAILURE_LIMIT = env_int("PODIUM_LOGIN_FAILURE_LIMIT", 5)
PODIUM_LOGIN_COOLOFF_S = env_int("PODIUM_LOGIN_COOLOFF_S", 900)
PODIUM_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("PODIUM_LOGIN_ADDRESS_FAILURE_LIMIT", 50)
