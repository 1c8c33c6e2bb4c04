"""Runs the hostile corpus through the platform's real paths in a process of its own, and
measures what each upload costs: ``python -m tests.security.measure DATA_DIR OUT_JSON``.

For every upload, as a web request does: ``submit`` (receive, store, the request's checks);
then, as a worker does: the ``validating`` step if one was left, and scoring if it was queued.
Each stage reports the peak growth of resident memory (the kernel's high-water mark, reset
through /proc/self/clear_refs before the stage), the CPU seconds it took, and every file it
left in the data folder. A fresh SQLite database in DATA_DIR; nothing else is touched.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

_MIB = 1 << 20


def _status() -> dict[str, int]:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) * 1024
    return values


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stage:
    """Peak memory growth and CPU time of a block of work."""

    def __enter__(self):
        import gc

        gc.collect()
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current RSS
        self.rss = _status()["VmRSS"]
        self.cpu = _cpu_s()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.peak_growth = max(0, _status()["VmHWM"] - self.rss)
        self.cpu_s = _cpu_s() - self.cpu
        self.wall_s = time.perf_counter() - self.wall
        return False

    def report(self) -> dict:
        return {"peak_growth_mib": round(self.peak_growth / _MIB, 1),
                "cpu_s": round(self.cpu_s, 2), "wall_s": round(self.wall_s, 2)}


def _files(root: Path) -> set[str]:
    skip = {"broker", "static"}
    found = set()
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] not in skip and ".sqlite3" not in path.name:
            found.add(str(relative))
    return found


def main(data_dir: str, out: str) -> None:
    os.environ["PODIUM_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File
    from django.core.management import call_command

    from core.errors import PodiumError
    from evaluation.models import State
    from evaluation.services import scoring, validation
    from evaluation.services.demo_data import write_detection_task
    from evaluation.services.importing import import_task
    from evaluation.services.submission import submit
    from tests import factories
    from tests.evaluation.helpers import cube_predictions_zip
    from tests.security.corpus import CORPUS, DETECTION

    call_command("migrate", verbosity=0)
    root = Path(data_dir)
    inputs = root.parent / "corpus"
    inputs.mkdir(exist_ok=True)
    phases = {
        "segmentation": import_task(factories.write_cube_task(root.parent / "cube"),
                                    challenge_slug="cubes").phase,
    }
    folder, boxes = write_detection_task(root.parent / "dx", key="Task10_Dx", n_images=3, seed=1)
    phases[DETECTION] = import_task(folder, challenge_slug="dx").phase
    users = {kind: factories.participant(phase, f"p-{kind}") for kind, phase in phases.items()}
    image_ids = sorted(boxes)

    def run(kind: str, path: Path) -> dict:
        before = _files(root)
        result: dict = {"stages": {}}
        with Stage() as request, open(path, "rb") as fh:
            try:
                submission = submit(phase=phases[kind], user=users[kind],
                                    upload=File(fh, name=path.name))
            except PodiumError as exc:
                submission, result["message"], result["refused_at"] = None, str(exc), "request"
        result["stages"]["request"] = request.report()
        if submission is not None:
            evaluation = submission.evaluations.get()
            with Stage() as worker:
                if evaluation.state == State.VALIDATING:
                    validation.validate(evaluation.id, worker="measure")
                    evaluation.refresh_from_db()
                if evaluation.state == State.QUEUED:
                    scoring.score(evaluation.id, worker="measure")
                    evaluation.refresh_from_db()
            result["stages"]["worker"] = worker.report()
            result.update(state=evaluation.state, message=evaluation.participant_message,
                          refused_at="worker")
        left = sorted(_files(root) - before)  # a refused upload is not kept
        result["files_left"] = left
        result["work_dir_left"] = sorted(str(p) for p in Path(settings.WORK_DIR).iterdir())
        return result

    # Warm up (imports, compiled scorer kernels) so that they are not charged to the corpus;
    # the valid upload it leaves in storage is not one of the corpus's.
    run("segmentation", cube_predictions_zip(root.parent))
    results = {}
    for hostile in CORPUS:
        case_dir = inputs / hostile.name.replace(" ", "_").replace("/", "_")
        case_dir.mkdir(exist_ok=True)
        upload = hostile.build(case_dir, image_ids)
        try:
            outcome = run(hostile.task, upload)
        except Exception as exc:  # a finding: the platform itself failed on this upload
            outcome = {"crash": f"{type(exc).__name__}: {exc}"[:500]}
            from django.db import connection

            connection.close()
        outcome["upload_bytes"] = upload.stat().st_size
        results[hostile.name] = outcome
        upload.unlink()
        Path(out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:3])
