"""Every Celery task name is said once, in its app's task_names module, and names a task the
worker knows: a name sent with ``send_task`` that no task carries is lost without an error."""

import ast
from pathlib import Path

from challenges import task_names as challenges_names
from evaluation import task_names as evaluation_names
from leaderboard import task_names as leaderboard_names
from podium.celery import app

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("evaluation", "leaderboard", "challenges", "accounts", "podium", "benchmarks",
           "tests")


def declared() -> set[str]:
    return {value for module in (challenges_names, evaluation_names, leaderboard_names)
            for key, value in vars(module).items() if key.isupper()}


def registered() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_declared_name_is_a_registered_task_and_every_task_is_declared():
    assert declared() == registered()


def test_routes_name_registered_tasks():
    assert set(app.conf.task_routes) <= registered()


def test_no_module_spells_a_task_name_outside_task_names():
    """So every ``send_task`` (and route, and test) goes through the constants above."""
    names = declared()
    spelled = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "task_names.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Constant) and node.value in names:
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert spelled == []
