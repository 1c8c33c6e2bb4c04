#!/usr/bin/env python3
"""Django's command-line utility for Podium.

It works as the README writes it, from a fresh shell: started by a Python without Django, it
runs again with the checkout's ``.venv/bin/python`` (made by ``./run.sh``); it finds the data
of the server ``./run.sh`` started, as the server does (``podium.settings``: PODIUM_DATA_DIR,
else the folder ``./run.sh`` recorded); and a command that needs the database refuses with one
line when there is none there yet, instead of creating an empty one.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
# Commands that need no database, or create it.
WITHOUT_DATABASE = {"help", "--help", "-h", "version", "--version", "check", "migrate",
                    "makemigrations", "collectstatic", "test", "diffsettings"}


def run_with_django() -> None:
    """Return if Django imports; else run this command again with the checkout's virtualenv."""
    try:
        import django  # noqa: F401
    except ModuleNotFoundError:
        python = VENV / "bin" / "python"
        if Path(sys.prefix).resolve() == VENV.resolve() or not python.exists():
            sys.exit("manage.py: Django is not installed for this Python; run ./run.sh once "
                     "(it creates .venv)")
        # The same command, by the virtualenv's interpreter (no shell in between).
        os.execv(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606


def missing_database(command: str) -> str | None:
    """The embedded database's path if ``command`` needs it and it does not exist yet."""
    if command in WITHOUT_DATABASE:
        return None
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3" or Path(database["NAME"]).exists():
        return None
    return str(database["NAME"])


def main() -> None:
    run_with_django()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "podium.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    missing = missing_database(command)
    if missing:
        sys.exit(f"manage.py {command}: there is no database at {missing} yet: start Podium "
                 "once with ./run.sh, or set PODIUM_DATA_DIR to the data folder of the server "
                 "you mean")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
