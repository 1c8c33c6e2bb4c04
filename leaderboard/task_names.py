"""The names of the leaderboard app's Celery tasks (leaderboard/tasks.py), said once.

Here rather than in tasks.py because the services send them and tasks.py imports the services;
see evaluation/task_names.py.
"""

REFRESH = "leaderboard.refresh"
REFRESH_CHALLENGE = "leaderboard.refresh_challenge"
HEAL = "leaderboard.heal"
