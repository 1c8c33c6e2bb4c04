"""Fixtures of the fault-injection suite: one stack (tests/faults/stack.py) for the session,
the task imported into it, participants, and the summary table of what was injected and
recovered (printed at the end of the run; docs/reliability.md quotes it)."""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connection

from challenges.models import Phase
from tests import factories

from .checks import RESULTS, write_task
from .stack import HTTP, FaultStack


def _requirements() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("the fault-injection suite terminates PostgreSQL connections: run it in "
                    "test.sh's second pass (DATABASE_URL=postgres://...)")
    missing = [tool for tool in ("redis-server", "redis-cli", "unshare", "mount")
               if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing for the fault-injection suite: {', '.join(missing)}")
    if os.geteuid() != 0:
        pytest.fail("the scratch-disk fault mounts a tmpfs: run the suite as root (CI does)")


@pytest.fixture(scope="session")
def fault_stack(django_db_setup, podman_socket):
    _requirements()
    stack = FaultStack(engine_socket=podman_socket)
    yield stack
    stack.close()


@pytest.fixture
def stack(fault_stack, transactional_db):
    """The session's stack, with no worker running and empty queues after the test."""
    yield fault_stack
    fault_stack.stop_workers()


@pytest.fixture
def task_folder(tmp_path_factory) -> Path:
    return write_task(tmp_path_factory.mktemp("faults-task"))


def import_phase(stack: FaultStack, folder: Path, slug: str, **fields) -> Phase:
    """Import ``folder`` through the stack (its files go to the object store) and return the
    open phase, with ``fields`` set."""
    stack.manage("import_msd_task", str(folder), "--challenge", slug)
    phase = Phase.objects.get(task__challenge__slug=slug)
    Phase.objects.filter(pk=phase.pk).update(submission_limit=None, **fields)
    phase.refresh_from_db()
    return phase


def participants(phase: Phase, count: int) -> list[dict]:
    """``count`` accepted participants of the phase: their API headers."""
    return [{"Authorization": f"Token {factories.token(factories.participant(phase))}"}
            for _ in range(count)]


def post(stack: FaultStack, phase: Phase, headers: dict, path: Path):
    with open(path, "rb") as fh:
        return HTTP.post(f"{stack.web_url}/api/v1/phases/{phase.id}/submissions/",
                         files={"file": (path.name, fh)}, headers=headers, timeout=120)


def submit(stack: FaultStack, phase: Phase, headers: dict, path: Path) -> str:
    response = post(stack, phase, headers, path)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def pytest_terminal_summary(terminalreporter):
    lines = RESULTS
    if not lines:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault injection: injected → recovered")
    write(f"{'fault':58} {'injected':>8} {'recovered':>9} {'evals':>5}  recovery (s)")
    for line in lines:
        write(f"{line['fault'][:58]:58} {line['injected']:>8} {line['recovered']:>9} "
              f"{line['evaluations']:>5}  {', '.join(map(str, line['recovery_s']))}"
              + (f"  ({line['note']})" if line["note"] else ""))
