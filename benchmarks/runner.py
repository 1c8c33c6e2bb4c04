"""Runner overhead and throughput against a real engine.

    .venv/bin/python benchmarks/runner.py [--runs 10] [--docker-host unix:///path.sock]

Without ``--docker-host`` it starts a private podman API service (scripts/podman/serve.sh) in
a temporary folder. The algorithm does nothing (``/bin/true`` from busybox-static), so the
numbers are the runner's own cost: output volume, holder, sandboxed container, wait, fill
check, collection and clean-up. The reference is docker-py's plain ``containers.run(...,
remove=True)`` of the same image with no sandbox, measured in the same session.

Prints (1) the per-run overhead, submit → outputs collected, median over ``--runs``; (2) the
throughput of 20 runs with one and with two worker processes (separate OS processes, each
with its own runner and name prefix, as one Celery worker process per GPU would be).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.runners.base import MIB, Outcome, ResourceLimits, RunRequest  # noqa: E402
from evaluation.runners.docker_api import DockerApiRunner  # noqa: E402
from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive  # noqa: E402

LIMITS = ResourceLimits(memory_bytes=256 * MIB, cpus=1.0, pids=64, wall_time_s=60)


def _noop_archive(folder: Path) -> Path:
    spec = ImageSpec(
        files={"/bin/busybox": LayerFile(Path("/bin/busybox").read_bytes(), 0o755)},
        symlinks={"/bin/true": "busybox"},
        cmd=("/bin/true",),
        user="1000:1000",
    )
    path = folder / "noop.tar"
    write_image_archive(spec, path, tag="podium-bench/noop:latest")
    return path


def _one_run(runner: DockerApiRunner, image_id: str, folder: Path, run_id: str) -> float:
    inputs, outputs = folder / run_id / "in", folder / run_id / "out"
    inputs.mkdir(parents=True)
    outputs.mkdir()
    started = time.perf_counter()
    result = runner.run(
        RunRequest(run_id=run_id, image_id=image_id, input_dir=inputs, output_dir=outputs,
                   limits=LIMITS)
    )
    elapsed = time.perf_counter() - started
    if result.outcome != Outcome.SUCCEEDED:
        raise RuntimeError(f"benchmark run {run_id} ended {result.outcome}: {result.error}")
    return elapsed


def _worker(docker_host: str, image_id: str, folder: str, worker: int, runs: int) -> None:
    runner = DockerApiRunner(docker_host=docker_host, name_prefix=f"podium-bench{worker}-")
    for i in range(runs):
        _one_run(runner, image_id, Path(folder), f"w{worker}-{i}")


def _throughput(docker_host: str, image_id: str, folder: Path, *, processes: int) -> float:
    """Runs per second for 20 runs shared by ``processes`` worker processes."""
    total = 20
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=_worker,
            args=(docker_host, image_id, str(folder / f"p{processes}"), w, total // processes),
        )
        for w in range(processes)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a benchmark worker exited with {worker.exitcode}")
    return total / (time.perf_counter() - started)


def _bare_run(runner: DockerApiRunner, image_id: str) -> float:
    started = time.perf_counter()
    runner.client.containers.run(image_id, remove=True, network_mode="none")
    return time.perf_counter() - started


def benchmark(docker_host: str, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as name:
        folder = Path(name)
        runner = DockerApiRunner(docker_host=docker_host, name_prefix="podium-bench-")
        image_id = runner.load_image(_noop_archive(folder))
        _one_run(runner, image_id, folder, "warm-up")  # loads the holder image once
        ours = [_one_run(runner, image_id, folder, f"seq-{i}") for i in range(runs)]
        bare = [_bare_run(runner, image_id) for _ in range(runs)]
        one = _throughput(docker_host, image_id, folder, processes=1)
        two = _throughput(docker_host, image_id, folder, processes=2)
        runner.remove_image(image_id)
    median, reference = statistics.median(ours), statistics.median(bare)
    print(f"per-run overhead (submit → outputs collected), median of {runs}: {median:.2f} s")
    print(f"  plain containers.run(remove=True), same image: {reference:.2f} s "
          f"(ratio {median / reference:.1f}×)")
    print(f"throughput, 20 runs, 1 worker process:  {one:.2f} runs/s")
    print(f"throughput, 20 runs, 2 worker processes: {two:.2f} runs/s ({two / one:.2f}×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--docker-host", help="engine API URL; default: start podman here")
    args = parser.parse_args()
    if args.docker_host:
        benchmark(args.docker_host, args.runs)
        return
    serve = ROOT / "scripts" / "podman" / "serve.sh"
    folder = Path(tempfile.mkdtemp(prefix="podium-podman-"))
    try:
        socket = subprocess.run(
            [str(serve), str(folder)], capture_output=True, text=True, check=True
        ).stdout.strip()
        benchmark(f"unix://{socket}", args.runs)
    finally:
        subprocess.run([str(serve), "--stop", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
