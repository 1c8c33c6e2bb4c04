"""The Celery app. ``celery -A podium worker`` with no options serves every queue.

Queues: ``scoring`` (CPU: scoring, leaderboard snapshots, the reaper) and ``gpu`` (algorithm
containers; production runs one worker process per GPU with ``-Q gpu -c 1``).
"""

import os

import kombu.transport
from celery import Celery, bootsteps
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


class ReaperStep(bootsteps.StartStopStep):
    """Every worker asks for a reaper pass at start and then every PODIUM_REAPER_INTERVAL_S.

    The pass itself runs as an ordinary task in a pool process (never in the worker's parent
    process, whose database connection would be shared with forked children). Passes are
    idempotent, so several workers asking is harmless.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_ref = None

    def start(self, worker):
        from django.conf import settings

        self.request_pass()
        self.timer_ref = worker.timer.call_repeatedly(
            settings.PODIUM_REAPER_INTERVAL_S, self.request_pass
        )

    def stop(self, worker):
        if self.timer_ref is not None:
            self.timer_ref.cancel()

    @staticmethod
    def request_pass():
        app.send_task(task_names.REAP)


app.steps["worker"].add(ReaperStep)
