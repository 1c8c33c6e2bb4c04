"""The names of the evaluation app's Celery tasks (evaluation/tasks.py), said once.

They live here, not in tasks.py, because everything that sends or routes a task needs them:
the services (which tasks.py imports, so they cannot import tasks.py back) and podium/celery.py
(loaded before Django is set up, when tasks.py, which imports models, cannot be). This module
imports nothing.
"""

VALIDATE = "evaluation.validate"
SCORE = "evaluation.score"
SCORE_SHARD = "evaluation.score_shard"
RUN_ALGORITHM = "evaluation.run_algorithm"
REAP = "evaluation.reap"
NOTIFY_FINISHED = "evaluation.notify_finished"
SEND_DIGESTS = "evaluation.send_digests"
IMPORT_TASK = "evaluation.import_task"
