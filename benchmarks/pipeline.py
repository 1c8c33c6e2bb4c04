"""End-to-end scoring pipeline benchmark on PostgreSQL + Redis with real Celery workers.

Scores 50-case submissions (256×256×128, 3 labels) through the whole platform — upload checks,
queue, worker, NIfTI reading, scoring, database writes — with one worker process (one
submission) and with two worker processes (two submissions at once; each submission is scored
in shards that both workers take), after a warm-up round. Each round is paired with a baseline
run just before it: the same cases scored by ``score_case`` alone (arrays already in memory) in
as many processes at once as there are workers. It prints the medians over the rounds of the
seconds per case and of the share of the time spent outside the scorer, 1 − baseline / wall.

    .venv/bin/python benchmarks/pipeline.py [--cases 50] [--rounds 5] [--log-dir DIR]
        [--database postgres://…] [--broker redis://…]

It creates and drops its own database (``podium_bench``) and uses Redis database 13.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--shape", type=int, nargs=3, default=(256, 256, 128))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/podium_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--log-dir", type=Path, help="keep the workers' logs here")
    return parser.parse_args()


def configure(args, data_dir: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="podium.settings", DATABASE_URL=args.database,
        CELERY_BROKER_URL=args.broker, PODIUM_DATA_DIR=str(data_dir), PODIUM_LOG_LEVEL="WARNING",
    )
    name = args.database.rsplit("/", 1)[1]
    admin = args.database.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_task(root: Path, cases: int, shape) -> tuple[Path, list]:
    """A 3-label task and, per case, a degraded prediction."""
    import numpy as np

    from evaluation.services.demo_data import degrade, organ_label_map, write_nifti

    rng = np.random.default_rng(0)
    folder = root / "Task20_Bench"
    (folder / "imagesTs").mkdir(parents=True)
    (folder / "labelsTs").mkdir()
    spacing = (0.8, 0.8, 2.5)
    pairs = []
    for i in range(cases):
        name = f"bench_{i:03d}.nii.gz"
        label = organ_label_map(rng, shape, 3)
        write_nifti(folder / "labelsTs" / name, label, spacing)
        write_nifti(folder / "imagesTs" / name, label.astype(np.int16), spacing)
        pairs.append((name, degrade(label, rng, 0.8).astype(np.uint8), label))
    (folder / "dataset.json").write_text(json.dumps({
        "name": "Bench", "tensorImageSize": "3D", "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "organ", "2": "lesion", "3": "vessel"},
        "numTest": cases, "test": [f"./imagesTs/{n}" for n, _, _ in pairs]}))
    return folder, pairs


def write_archive(root: Path, pairs, spacing=(0.8, 0.8, 2.5)) -> Path:
    from evaluation.services.demo_data import write_nifti

    path = root / "predictions.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, prediction, _ in pairs:
            write_nifti(root / name, prediction, spacing)
            archive.write(root / name, arcname=name)
            (root / name).unlink()
    return path


def _score_all(pairs) -> tuple[float, float]:
    from scorers.segmentation import score_case

    start = time.monotonic()
    for _, prediction, label in pairs:
        score_case(prediction, label, spacing_mm=(0.8, 0.8, 2.5), labels=[1, 2, 3],
                   nsd_tolerance_mm=1.0)
    return start, time.monotonic()


def _baseline_process(pairs, go, results) -> None:
    _score_all(pairs)  # warm-up, like a worker's first submission: caches, allocator, threads
    while True:
        go.wait()
        results.put(_score_all(pairs))


class Baseline:
    """``processes`` long-lived processes that run score_case alone (what a worker calls per
    case) on every case, arrays already in memory, all at once when asked. Each worker
    process scores with two threads, so on a small machine worker processes compete for the
    same cores; the baseline competes in the same way. Like the workers, the processes are
    warmed up once and then idle between runs."""

    def __init__(self, pairs, processes: int):
        import multiprocessing

        from scorers.segmentation import score_case

        score_case(pairs[0][1], pairs[0][2], spacing_mm=(0.8, 0.8, 2.5), labels=[1, 2, 3],
                   nsd_tolerance_mm=1.0)  # numba compilation, inherited by the forked processes
        context = multiprocessing.get_context("fork")
        self.go = context.Barrier(processes + 1)
        self.results = context.Queue()
        self.processes = [context.Process(target=_baseline_process, daemon=True,
                                          args=(pairs, self.go, self.results))
                          for _ in range(processes)]
        for process in self.processes:
            process.start()

    def seconds(self) -> float:
        """One run: from the first process's start to the last one's end."""
        self.go.wait()
        spans = [self.results.get() for _ in self.processes]
        return max(end for _, end in spans) - min(start for start, _ in spans)

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
            process.join()


def start_workers(count: int, log_dir: Path) -> list[subprocess.Popen]:
    workers = []
    for i in range(count):
        log = open(log_dir / f"worker-{count}-{i}.log", "wb")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "podium", "worker", "-Q", "scoring",
             "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "-n", f"bench{i}@%h"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()))
    for i in range(count):
        path = log_dir / f"worker-{count}-{i}.log"
        while b"ready." not in path.read_bytes():
            time.sleep(0.2)
    return workers


def run_round(phase, users, archive: Path) -> float:
    """Submit one archive per user at once; seconds from the first upload until the last
    evaluation finished (its ``finished_at``, written by the worker, so the polling interval
    here does not count)."""
    from django.core.files import File
    from django.utils import timezone

    from evaluation.models import Evaluation, State
    from evaluation.services.submission import submit

    start = timezone.now()
    ids = []
    for user in users:
        with open(archive, "rb") as fh:
            ids.append(submit(phase=phase, user=user, upload=File(fh, name="p.zip")).id)
    while True:
        rows = list(Evaluation.objects.filter(submission_id__in=ids).values_list(
            "state", "finished_at"))
        if all(state in (State.SUCCEEDED, State.FAILED) for state, _ in rows):
            assert all(state == State.SUCCEEDED for state, _ in rows), rows
            return (max(finished for _, finished in rows) - start).total_seconds()
        time.sleep(0.25)  # the wall time comes from finished_at: poll lightly, not to perturb it


def settle(phase) -> None:
    """Let the leaderboard refresh that the last round asked for (sent with a 2 s countdown)
    start and finish, so that it does not run on the workers during the next measured round."""
    from leaderboard.models import LeaderboardSnapshot

    time.sleep(2.5)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and LeaderboardSnapshot.objects.filter(
            phase=phase, refresh_requested_at__isnull=False).exists():
        time.sleep(0.2)
    time.sleep(2.0)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        root = Path(tmp)
        configure(args, root / "data")
        from django.contrib.auth import get_user_model

        from challenges.services.participation import join
        from evaluation.services.importing import import_task
        from podium.celery import app

        print(f"generating {args.cases} cases of {tuple(args.shape)} with 3 labels …", flush=True)
        folder, pairs = make_task(root, args.cases, tuple(args.shape))
        phase = import_task(folder, challenge_slug="bench").phase
        users = [get_user_model().objects.create_user(f"bench{i}") for i in range(2)]
        for user in users:
            join(phase.task.challenge, user)
        archive = write_archive(root, pairs)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("scoring")
        print("| workers | submissions | cases | wall s | s per case | score_case alone s "
              "| outside the scorer |")
        print("|---|---|---|---|---|---|---|")
        for count in (1, 2):
            baseline = Baseline(pairs, count)
            workers = start_workers(count, args.log_dir or root)
            try:
                run_round(phase, users[:1], archive)  # warm-up: imports, numba, caches
                walls, baselines = [], []
                for _ in range(args.rounds):
                    settle(phase)
                    baselines.append(baseline.seconds())
                    time.sleep(2.0)  # both start from an idle machine
                    walls.append(run_round(phase, users[:count], archive))
                print(f"rounds: wall {[round(w, 2) for w in walls]}, "
                      f"score_case alone {[round(b, 2) for b in baselines]}", flush=True)
            finally:
                baseline.close()
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(timeout=60)
            cases = count * args.cases
            wall, alone = statistics.median(walls), statistics.median(baselines)
            shares = [max(0.0, 1 - b / w) for b, w in zip(baselines, walls, strict=True)]
            outside = statistics.median(shares)
            print(f"| {count} | {count} | {cases} | {wall:.2f} | {wall / cases:.3f} "
                  f"| {alone:.2f} | {outside:.0%} |", flush=True)


if __name__ == "__main__":
    main()
