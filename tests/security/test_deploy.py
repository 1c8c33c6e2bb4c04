"""The production environment of docker/compose.yaml passes Django's deployment checks."""

import os
import re
import secrets
import subprocess
import sys

import yaml

from tests.conftest import ROOT

VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``: from ``given``, else
    the default; a required variable missing from ``given`` fails the test."""

    def one(match: re.Match) -> str:
        name, kind, rest = match.groups()
        if name in given:
            return given[name]
        assert kind == "-", f"compose requires {name}: {rest}"
        return rest

    return VARIABLE.sub(one, str(value))


def web_environment(given: dict[str, str]) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    return {name: interpolate(value, given)
            for name, value in compose["services"]["web"]["environment"].items()}


def test_compose_production_settings_pass_check_deploy(tmp_path):
    environment = web_environment({"PODIUM_SECRET_KEY": secrets.token_urlsafe(50),
                                   "PODIUM_S3_SECRET_KEY": secrets.token_urlsafe(30)})
    assert environment["PODIUM_HTTPS"] == "1"
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PODIUM_", "DATABASE_", "CELERY_", "DJANGO_"))}
    env = {**clean, **environment, "DJANGO_SETTINGS_MODULE": "podium.settings",
           "PODIUM_DATA_DIR": str(tmp_path / "data"), "PODIUM_WORK_DIR": str(tmp_path / "work")}
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
