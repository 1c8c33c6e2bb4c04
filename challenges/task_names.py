"""The names of the challenges app's Celery tasks (challenges/tasks.py), said once: see
evaluation/task_names.py for why they live apart from the tasks. This module imports nothing."""

NOTIFY_PENDING = "challenges.notify_pending"
