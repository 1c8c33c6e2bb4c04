"""Settings for the embedded-beat test: podium's, with the daily digest due every second (the
entry's task and the beat machinery as in production, only the schedule shortened)."""

from podium.settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {"daily-digest": {**CELERY_BEAT_SCHEDULE["daily-digest"],  # noqa: F405
                                         "schedule": 1.0}}
