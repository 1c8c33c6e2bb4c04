"""Files at rest: after the demo is imported into a fresh data folder, nothing in it — the
database, hidden labels, test images, uploads, broker messages — is readable by another user."""

import json
import os
import sqlite3
import stat
import subprocess
import sys

from tests.conftest import ROOT

DEMO = """
import json, os, stat, django
from pathlib import Path
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
with open(os.devnull, "w") as quiet:
    call_command("make_demo", stdout=quiet)
with connection.cursor() as cursor:  # an open connection: the -wal and -shm files exist
    cursor.execute("SELECT count(*) FROM challenges_phase")
    root = Path(settings.DATA_DIR)
    print(json.dumps({str(p.relative_to(root)): [stat.S_IMODE(p.lstat().st_mode), p.is_dir()]
                      for p in [root, *root.rglob("*")]}))
"""


def test_the_demo_import_leaves_nothing_readable_by_others(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    # An existing deployment's database, created before the modes were tightened.
    sqlite3.connect(data / "podium.sqlite3").close()
    (data / "podium.sqlite3").chmod(0o644)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PODIUM_", "DATABASE_", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="podium.settings", PODIUM_DATA_DIR=str(data),
               PODIUM_SECRET_KEY="files-at-rest-test-key-" + "x" * 40)
    done = subprocess.run([sys.executable, "-c", DEMO], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    modes = json.loads(done.stdout.strip().splitlines()[-1])

    for folder in (".", "private", "uploads", "work", "broker"):
        assert modes[folder] == [0o700, True], folder
    for name in ("podium.sqlite3", "podium.sqlite3-wal", "podium.sqlite3-shm"):
        assert modes[name] == [0o600, False], name
    for area in ("private/", "uploads/", "broker/", "demo/"):
        assert [p for p, (_, is_dir) in modes.items() if p.startswith(area) and not is_dir], area
    readable = {path: oct(mode) for path, (mode, _) in modes.items() if mode & 0o077}
    assert readable == {}
    assert all(mode & stat.S_IXUSR for mode, is_dir in modes.values() if is_dir)
