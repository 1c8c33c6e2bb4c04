"""The Celery app. ``celery -A podium worker`` with no options serves every queue.

Queues: ``scoring`` (CPU: scoring, leaderboard snapshots, the periodic passes) and ``gpu``
(algorithm containers; production runs one worker process per GPU with ``-Q gpu -c 1``).

The periodic passes (the reaper, the leaderboard healer, the digests) are sent by Celery beat,
one scheduler per deployment (``worker -B`` in run.sh, the ``beat`` service in compose; see
docs/reliability.md), and each runs under a lock (:mod:`evaluation.services.periodic`), so a
second beat started by mistake never runs a pass twice at once.
"""

import os

import kombu.transport
from celery import Celery
from kombu import Queue

from evaluation import task_names

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "podium.settings")
# The embedded default broker: kombu's filesystem transport made safe (see podium/broker.py).
kombu.transport.TRANSPORT_ALIASES["podiumfs"] = "podium.broker:Transport"

app = Celery("podium")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("scoring"), Queue("gpu")]
app.conf.task_default_queue = "scoring"
app.conf.task_routes = {task_names.RUN_ALGORITHM: {"queue": "gpu"}}
app.conf.broker_connection_retry_on_startup = True
app.autodiscover_tasks()
