"""Capacity model for a Decathlon-size challenge, checked against the real queue.

The model (``model`` command, instant) turns measured costs into the load of a challenge of
``--tasks`` MSD-like tasks, ``--teams`` teams and ``--per-day`` submissions per team and task
each day, and prints, for N CPU workers, M GPU workers and W web replicas, the utilisation and
the expected and 95th-percentile queueing delay, and the smallest N, M and W that keep the
95th-percentile wait under the targets. Queues are M/G/c: Poisson arrivals, the Erlang C
formula (M/M/c) for the probability of waiting and the exponential tail of the wait, scaled by
the Allen–Cunneen factor (1 + cs²) / 2 for service times that are not exponential (cs² their
squared coefficient of variation; 0 gives the usual M/D/c approximation).

The simulation (``simulate`` command, ≈ 3 minutes) drives a Celery queue on Redis with the
platform's queue settings (late acknowledgement, prefetch 1) and 1, then 2, real worker
processes. Each job is real scoring work — ``score_case`` on one small in-memory case, repeated
a number of times calibrated in this run — so that the jobs' service times follow the model's
task mix scaled down in time; arrivals are Poisson at the rate that gives ``--utilisation``.
It prints the measured mean and 95th-percentile wait (start − enqueue) and throughput next to
the model's prediction for the measured service times and arrival rate, and their ratios.

    .venv/bin/python benchmarks/capacity.py model [--teams 500] [--per-day 5] [--peak 4]
        [--target-s 600] [--gpu-s-per-mvoxel 0.3] …
    .venv/bin/python benchmarks/capacity.py simulate [--jobs 150] [--mean-service 0.4]
        [--utilisation 0.6] [--broker redis://127.0.0.1:6379/6]

The simulation purges and uses the queue ``capacity`` on Redis database 6 (``--broker``); it
refuses a database that holds other keys.
Cost defaults, their sources and the results: docs/scale.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from celery import Celery
from celery.signals import worker_process_init

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DAY_S = 86_400.0


# --- queueing formulas ---------------------------------------------------------------------

def _check_queue(arrival_rate: float, service_mean: float, servers: int) -> None:
    if not (arrival_rate > 0 and math.isfinite(arrival_rate)):
        raise ValueError(f"arrival rate must be a positive number, got {arrival_rate}")
    if not (service_mean > 0 and math.isfinite(service_mean)):
        raise ValueError(f"mean service time must be a positive number, got {service_mean}")
    if not (isinstance(servers, int) and servers >= 1):
        raise ValueError(f"servers must be a whole number ≥ 1, got {servers!r}")


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C), for ``offered_load``
    a = λ/μ < c; computed through the Erlang B recursion B(k) = a·B(k−1) / (k + a·B(k−1)),
    which stays finite for hundreds of servers, then C = B / (1 − (a/c)(1 − B))."""
    if not (isinstance(servers, int) and servers >= 1):
        raise ValueError(f"servers must be a whole number ≥ 1, got {servers!r}")
    if not (offered_load > 0 and math.isfinite(offered_load)):
        raise ValueError(f"offered load must be a positive number, got {offered_load}")
    if offered_load >= servers:
        return 1.0
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    rho = offered_load / servers
    return blocking / (1 - rho * (1 - blocking))


def mean_wait(arrival_rate: float, service_mean: float, servers: int,
              service_cv2: float = 1.0) -> float:
    """Expected wait before service, Wq = C(c, a) / (cμ − λ) · (1 + cs²) / 2 (Erlang C with
    the Allen–Cunneen factor; exact for M/M/c, cs² = 1). ``inf`` when λ ≥ cμ."""
    _check_queue(arrival_rate, service_mean, servers)
    offered = arrival_rate * service_mean
    if offered >= servers:
        return math.inf
    spare = servers / service_mean - arrival_rate
    return erlang_c(servers, offered) / spare * (1 + service_cv2) / 2


def wait_quantile(arrival_rate: float, service_mean: float, servers: int, q: float,
                  service_cv2: float = 1.0) -> float:
    """The q-quantile of the wait: in M/M/c, P(W > t) = C·exp(−(cμ − λ)t), so
    t_q = ln(C / (1 − q)) / (cμ − λ), or 0 when C ≤ 1 − q; scaled by (1 + cs²) / 2 like the
    mean (an approximation outside cs² = 1). ``inf`` when λ ≥ cμ."""
    _check_queue(arrival_rate, service_mean, servers)
    if not 0 < q < 1:
        raise ValueError(f"quantile must lie strictly between 0 and 1, got {q}")
    offered = arrival_rate * service_mean
    if offered >= servers:
        return math.inf
    waiting = erlang_c(servers, offered)
    if waiting <= 1 - q:
        return 0.0
    spare = servers / service_mean - arrival_rate
    return math.log(waiting / (1 - q)) / spare * (1 + service_cv2) / 2


def smallest_servers(arrival_rate: float, service_mean: float, target_s: float,
                     q: float = 0.95, service_cv2: float = 1.0,
                     max_utilisation: float = 1.0) -> int:
    """The fewest servers whose q-quantile wait is at most ``target_s`` seconds and whose
    utilisation is at most ``max_utilisation``: a busy hour is not a steady state, and close to
    full utilisation the steady-state wait is reached only after many hours."""
    if not target_s >= 0:
        raise ValueError(f"target wait must be ≥ 0 seconds, got {target_s}")
    if not 0 < max_utilisation <= 1:
        raise ValueError(f"maximum utilisation must lie in (0, 1], got {max_utilisation}")
    offered = arrival_rate * service_mean
    servers = max(1, math.floor(offered) + 1, math.ceil(offered / max_utilisation))
    while wait_quantile(arrival_rate, service_mean, servers, q, service_cv2) > target_s:
        servers += 1
    return servers


@dataclass(frozen=True)
class Mix:
    """Jobs of several kinds sharing one queue: the mixture's arrival rate and service-time
    moments (each kind's service time taken as fixed)."""

    arrival_rate: float
    service_mean: float
    service_cv2: float

    @classmethod
    def of(cls, kinds: list[tuple[float, float]]) -> Mix:
        """``kinds``: (arrival rate, service seconds) per kind of job."""
        if not kinds or any(rate < 0 or seconds <= 0 for rate, seconds in kinds):
            raise ValueError("a mix needs kinds with rates ≥ 0 and service times > 0")
        rate = sum(r for r, _ in kinds)
        if rate <= 0:
            raise ValueError("a mix needs at least one kind with a positive rate")
        first = sum(r * s for r, s in kinds) / rate
        second = sum(r * s * s for r, s in kinds) / rate
        return cls(rate, first, max(0.0, second / first**2 - 1))

    def utilisation(self, servers: int) -> float:
        return self.arrival_rate * self.service_mean / servers

    def wait(self, servers: int, q: float | None = None) -> float:
        if q is None:
            return mean_wait(self.arrival_rate, self.service_mean, servers, self.service_cv2)
        return wait_quantile(self.arrival_rate, self.service_mean, servers, q, self.service_cv2)

    def smallest(self, target_s: float, q: float = 0.95, max_utilisation: float = 1.0) -> int:
        return smallest_servers(self.arrival_rate, self.service_mean, target_s, q,
                                self.service_cv2, max_utilisation)


# --- the challenge ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """An MSD task: approximate median test-image shape, scored labels (background excluded)
    and number of test cases (Antonelli et al., Nat. Commun. 2022, table 1)."""

    name: str
    shape: tuple[int, int, int]
    labels: int
    cases: int

    @property
    def voxels(self) -> int:
        return math.prod(self.shape)


DECATHLON = (
    Task("BrainTumour", (240, 240, 155), 3, 266),
    Task("Heart", (320, 320, 110), 1, 10),
    Task("Liver", (512, 512, 432), 2, 70),
    Task("Hippocampus", (35, 51, 35), 2, 130),
    Task("Prostate", (320, 320, 20), 2, 16),
    Task("Lung", (512, 512, 252), 1, 32),
    Task("Pancreas", (512, 512, 93), 2, 139),
    Task("HepaticVessel", (512, 512, 49), 2, 140),
    Task("Spleen", (512, 512, 90), 1, 20),
    Task("Colon", (512, 512, 95), 1, 64),
)


@dataclass(frozen=True)
class Costs:
    """Measured or assumed costs; the defaults and where each comes from: docs/scale.md."""

    ns_per_voxel: float = 2.0        # pipeline.py, 1 worker: 0.84 s / 50 cases of 256×256×128
    extra_label: float = 0.233       # scorers.py: 3 labels 0.0626 s against 1 label 0.0427 s
    case_floor_s: float = 0.002      # assumed: a tiny case still costs its row and archive member
    evaluation_s: float = 0.1        # assumed: claim, archive fetch, final transaction
    snapshot_s: float = 1.85         # pages.py --teams 500: phase snapshot, quiet machine
    overall_s: float = 0.90          # pages.py --teams 500: challenge's overall ranking
    debounce_s: float = 2.0          # leaderboard.services.DEBOUNCE_S
    container_s: float = 0.90        # runner.py: per-run overhead, median of 10
    gpu_startup_s: float = 20.0      # assumed: CUDA initialisation and model loading per run
    gpu_s_per_mvoxel: float = 0.3    # assumed: 3D sliding-window inference, no GPU here
    web_upload_s: float = 1.0        # assumed: ≈ 80 MB received at upload.py's 78.5 MB/s
    web_page_s: float = 0.034        # leaderboard.md: logged-in leaderboard page
    web_cached_s: float = 0.010      # leaderboard.md: cached anonymous leaderboard page
    web_poll_s: float = 0.016        # leaderboard.md: participant's API list
    web_cores: int = 2               # per replica: leaderboard.md's 2 workers × 4 threads, 2 cores

    def case_s(self, task: Task) -> float:
        """CPU seconds to score one case, normalised to the pipeline benchmark's 3 labels."""
        weight = (1 + self.extra_label * (task.labels - 1)) / (1 + self.extra_label * 2)
        return max(self.case_floor_s, task.voxels * self.ns_per_voxel * 1e-9 * weight)

    def scoring_s(self, task: Task) -> float:
        return self.evaluation_s + task.cases * self.case_s(task)

    def gpu_s(self, task: Task) -> float:
        return (self.container_s + self.gpu_startup_s
                + task.cases * task.voxels / 1e6 * self.gpu_s_per_mvoxel)


@dataclass(frozen=True)
class Challenge:
    tasks: tuple[Task, ...] = DECATHLON
    teams: int = 500
    per_day: float = 5.0           # submissions per team, task and day
    peak: float = 1.0              # busiest hour's rate over the day's mean
    algorithm_share: float = 0.0   # share of submissions that are containers (GPU, then CPU)
    polls: int = 10                # status requests per submission
    views_per_team_day: int = 20   # logged-in leaderboard views per team and day
    public_views_day: int = 20_000 # anonymous (cached) leaderboard views per day

    @property
    def per_task_s(self) -> float:
        """Submissions per second to each task in the busiest hour."""
        return self.teams * self.per_day * self.peak / DAY_S

    def cpu(self, costs: Costs) -> Mix:
        """Scoring jobs plus leaderboard refreshes; a phase's refreshes coalesce, so each
        phase refreshes at most once per (time between its submissions + debounce)."""
        kinds = [(self.per_task_s, costs.scoring_s(t)) for t in self.tasks]
        per_phase = 1 / (1 / self.per_task_s + costs.debounce_s)
        kinds += [(per_phase, costs.snapshot_s)] * len(self.tasks)
        refresh_rate = per_phase * len(self.tasks)
        kinds.append((1 / (1 / refresh_rate + costs.debounce_s), costs.overall_s))
        return Mix.of(kinds)

    def gpu(self, costs: Costs) -> Mix | None:
        if self.algorithm_share <= 0:
            return None
        return Mix.of([(self.per_task_s * self.algorithm_share, costs.gpu_s(t))
                       for t in self.tasks])

    def web(self, costs: Costs) -> Mix:
        submissions = self.per_task_s * len(self.tasks)
        return Mix.of([
            (submissions, costs.web_upload_s),
            (submissions, costs.web_page_s),  # the submit page
            (submissions * self.polls, costs.web_poll_s),
            (self.teams * self.views_per_team_day * self.peak / DAY_S, costs.web_page_s),
            (self.public_views_day * self.peak / DAY_S, costs.web_cached_s),
        ])


def report(challenge: Challenge, costs: Costs, *, target_s: float, web_target_s: float,
           max_utilisation: float, q: float = 0.95) -> None:
    print("| task | shape | labels | test cases | CPU s per case | CPU s per submission "
          "| GPU s per run (assumed) |")
    print("|---|---|---|---|---|---|---|")
    for t in challenge.tasks:
        print(f"| {t.name} | {'×'.join(map(str, t.shape))} | {t.labels} | {t.cases} "
              f"| {costs.case_s(t):.3f} | {costs.scoring_s(t):.1f} | {costs.gpu_s(t):.0f} |")
    daily = challenge.per_task_s * len(challenge.tasks) * DAY_S / challenge.peak
    print(f"\nsubmissions per day: {daily:,.0f}; busiest-hour rate ×{challenge.peak:g}: "
          f"{daily * challenge.peak / DAY_S:.3f} per s")
    cpu = challenge.cpu(costs)
    queues = [("CPU workers", cpu, target_s)]
    gpu = challenge.gpu(costs)
    if gpu is not None:
        queues.append(("GPU workers", gpu, target_s))
    queues.append(("web cores", challenge.web(costs), web_target_s))
    for name, mix, target in queues:
        need = mix.smallest(target, q, max_utilisation)
        print(f"\n{name}: {mix.arrival_rate:.3f} jobs/s, mean service {mix.service_mean:.3f} s, "
              f"cs² {mix.service_cv2:.2f}, offered load {mix.arrival_rate * mix.service_mean:.2f}"
              f" → smallest count with p{q * 100:g} wait ≤ {target:g} s and utilisation ≤ "
              f"{max_utilisation:.0%}: {need}")
        print("| count | utilisation | mean wait s | p95 wait s |")
        print("|---|---|---|---|")
        for servers in sorted({max(1, need - 1), need, need + 1, need * 2}):
            print(f"| {servers} | {mix.utilisation(servers):.0%} | {mix.wait(servers):.2f} "
                  f"| {mix.wait(servers, q):.2f} |")
        if name == "web cores":
            print(f"web replicas of {costs.web_cores} cores: {math.ceil(need / costs.web_cores)}")


# --- the simulation ---------------------------------------------------------------------------

QUEUE = "capacity"
BROKER = os.environ.get("PODIUM_CAPACITY_BROKER", "redis://127.0.0.1:6379/6")
# Not the current app: importing this module (the tests do) must not redirect the platform's
# ``current_app.send_task`` calls to this benchmark's broker.
sim_app = Celery("capacity", broker=BROKER, backend=BROKER, set_as_current=False)
sim_app.conf.update(  # the platform's queue settings (podium/settings.py)
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    task_serializer="json", accept_content=["json"], task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True, result_expires=600,  # read once, at the end
)
_CASE: dict = {}


def _unit_case() -> tuple:
    """The work unit: one 3-label 64×64×48 case and a degraded prediction of it."""
    if not _CASE:
        import numpy as np

        from evaluation.services.demo_data import degrade, organ_label_map

        rng = np.random.default_rng(0)
        label = organ_label_map(rng, (64, 64, 48), 3)
        _CASE["pair"] = (degrade(label, rng, 0.8).astype(np.uint8), label)
    return _CASE["pair"]


def unit() -> None:
    """One work unit: what a worker does per case, at a size that makes jobs of tenths of a
    second out of tens of units, so that the Decathlon's spread of job sizes survives."""
    from scorers.segmentation import score_case

    prediction, label = _unit_case()
    score_case(prediction, label, spacing_mm=(0.8, 0.8, 2.5), labels=[1, 2, 3],
               nsd_tolerance_mm=1.0)


@worker_process_init.connect
def _warm(**_) -> None:
    """Compile (or load) numba's kernels before the first job, as a long-lived worker has;
    only in this benchmark's workers (the environment variable), never in the platform's."""
    if os.environ.get("PODIUM_CAPACITY_WORKER"):
        unit()


@sim_app.task(name="capacity.work", shared=False)  # on this app only, not the platform's
def work(units: int, enqueued_at: float) -> tuple[float, float, float, int]:
    """A job of ``units`` units; returns its enqueue, start and end times (wall clock, shared
    by every process on the machine) and the worker process's id."""
    started = time.time()
    for _ in range(units):
        unit()
    return enqueued_at, started, time.time(), os.getpid()


def _check_database(broker: str) -> None:
    """Refuse a Redis database that holds someone else's keys: purging the queue there, or
    their flushing it mid-run, would lose jobs."""
    import redis

    def ours(key: str) -> bool:
        return (key.startswith("celery-task-meta-") or key.endswith((f".{QUEUE}", ".pidbox"))
                or key in (QUEUE, "unacked", "unacked_index", "unacked_mutex",
                           "_kombu.binding_deadlines"))

    foreign = [key for key in redis.Redis.from_url(broker).scan_iter(count=1000)
               if not ours(key.decode(errors="replace"))]
    if foreign:
        raise SystemExit(f"{broker} holds {len(foreign)} keys that are not this benchmark's "
                         f"(e.g. {foreign[0]!r}); pick a free database with --broker")


def _start_workers(count: int, folder: Path) -> list[subprocess.Popen]:
    env = dict(os.environ, PODIUM_CAPACITY_BROKER=sim_app.conf.broker_url, NUMBA_NUM_THREADS="1",
               PODIUM_CAPACITY_WORKER="1",
               PYTHONPATH=str(ROOT))
    workers = []
    for i in range(count):
        log = folder / f"worker-{count}-{i}.log"
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "benchmarks.capacity:sim_app", "worker",
             "-Q", QUEUE, "--concurrency=1", "--loglevel=INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"capacity{i}@%h"],
            cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env))
    deadline = time.monotonic() + 120
    for i in range(count):
        log = folder / f"worker-{count}-{i}.log"
        while b"ready." not in log.read_bytes():
            if time.monotonic() > deadline or workers[i].poll() is not None:
                raise RuntimeError(f"worker {i} did not start; its log: {log}")
            time.sleep(0.2)
    return workers


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _calibrate(servers: int) -> float:
    """Seconds per work unit inside the started workers, under the machine's load now."""
    results = [work.apply_async(kwargs={"units": 60, "enqueued_at": time.time()})
               for _ in range(4 * servers)]
    return statistics.fmean((end - start) / 60 for _, start, end, _ in
                            (r.get(timeout=300) for r in results))


def _handover_s(rows: list) -> float:
    """Median gap between a job's end and the start of the next one on the same worker, when
    that one was already waiting: the queue's own per-job cost (storing the result,
    acknowledging, taking the next message), which a server's service time must include."""
    gaps = []
    by_worker: dict[int, list] = {}
    for row in rows:
        by_worker.setdefault(row[3], []).append(row)
    for jobs in by_worker.values():
        jobs.sort(key=lambda row: row[1])
        gaps += [nxt[1] - cur[2] for cur, nxt in itertools.pairwise(jobs)
                 if nxt[0] < cur[2]]
    return statistics.median(gaps) if gaps else 0.0


def _idle_while_waiting(rows: list, servers: int, handover: float) -> float:
    """Share of all waiting time during which a worker stood idle (fewer than ``servers`` jobs
    running, beyond one handover after a job's end): 0 for an ideal first-come-first-served
    queue; more when a busy worker holds a message that an idle one could have run."""
    edges = sorted([(start, 1) for _, start, _, _ in rows]
                   + [(end + handover, -1) for _, _, end, _ in rows])
    total = idle = 0.0
    for enqueued, start, _, _ in rows:
        total += start - enqueued
        running, last = 0, None
        for moment, step in edges:
            if last is not None and running < servers:
                low, high = max(last, enqueued), min(moment, start)
                idle += max(0.0, high - low)
            running += step
            last = moment
    return idle / total if total > 0 else 0.0


def simulate_round(servers: int, scoring: list[float], args, folder: Path) -> dict:
    """Poisson arrivals of ``args.jobs`` jobs (kinds drawn uniformly, as every task gets the
    same submission rate) at the rate that loads ``servers`` workers to ``args.utilisation``,
    each job's work the Decathlon task's scoring time scaled to a mean of
    ``args.mean_service`` seconds."""
    import numpy as np

    rng = np.random.default_rng(args.seed + servers)
    workers = _start_workers(servers, folder)
    try:
        unit_s = _calibrate(servers)
        scale = args.mean_service / statistics.fmean(scoring)
        units = [max(1, round(s * scale / unit_s)) for s in scoring]
        print(f"{servers} worker(s): work unit {unit_s * 1000:.1f} ms; units per job {units}",
              flush=True)
        rate = args.utilisation * servers / (statistics.fmean(units) * unit_s)
        gaps = rng.exponential(1 / rate, size=args.jobs)
        kinds = rng.integers(len(units), size=args.jobs)
        results = []
        base = time.monotonic() + 0.5
        for gap, kind in zip(np.cumsum(gaps), kinds, strict=True):
            time.sleep(max(0.0, base + gap - time.monotonic()))
            results.append(work.apply_async(kwargs={"units": int(units[kind]),
                                                    "enqueued_at": time.time()}))
        rows = [r.get(timeout=300) for r in results]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    skip = max(1, args.jobs // 10)  # the first arrivals meet an empty queue: not the steady state
    kept = rows[skip:]
    waits = [start - enqueued for enqueued, start, _, _ in kept]
    handover = _handover_s(rows)
    services = [end - start + handover for _, start, end, _ in kept]
    measured_rate = (len(kept) - 1) / (kept[-1][0] - kept[0][0])
    mean = statistics.fmean(services)
    mix = Mix(measured_rate, mean, statistics.pvariance(services) / mean**2)
    finished = sorted(end for _, _, end, _ in kept)
    return {
        "jobs": len(kept), "mix": mix, "handover": handover,
        "idle_waiting": _idle_while_waiting(rows, servers, handover),
        "mean_wait": statistics.fmean(waits), "p95_wait": _percentile(waits, 0.95),
        "throughput": (len(finished) - 1) / (finished[-1] - finished[0]),
    }


def simulate(args) -> None:
    scoring = [Costs().scoring_s(t) for t in Challenge().tasks]
    sim_app.conf.update(broker_url=args.broker, result_backend=args.broker)
    _check_database(args.broker)
    print(f"load average before: {os.getloadavg()}", flush=True)
    with sim_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    rows = []
    with tempfile.TemporaryDirectory(prefix="podium-capacity-") as tmp:
        for servers in args.workers:
            rows.append((servers, simulate_round(servers, scoring, args, Path(tmp))))
    print("| workers | jobs | arrivals/s | mean service s (handover ms) | cs² | utilisation "
          "| mean wait s: measured / M/G/c / ratio | p95 wait s: measured / M/G/c / ratio "
          "| throughput/s: measured / arrivals | waiting while a worker idled |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for servers, r in rows:
        mix = r["mix"]
        mean_model, p95_model = mix.wait(servers), mix.wait(servers, 0.95)
        mean, p95 = r["mean_wait"], r["p95_wait"]
        print(f"| {servers} | {r['jobs']} | {mix.arrival_rate:.2f} "
              f"| {mix.service_mean:.3f} ({r['handover'] * 1000:.0f}) "
              f"| {mix.service_cv2:.2f} | {mix.utilisation(servers):.0%} "
              f"| {mean:.2f} / {mean_model:.2f} / {_ratio(mean, mean_model)} "
              f"| {p95:.2f} / {p95_model:.2f} / {_ratio(p95, p95_model)} "
              f"| {r['throughput']:.2f} / {mix.arrival_rate:.2f} | {r['idle_waiting']:.0%} |")
    print(f"load average after: {os.getloadavg()}")


def _ratio(measured: float, model: float) -> str:
    return f"{measured / model:.2f}" if model > 0 else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    model = commands.add_parser("model", help="print the capacity table")
    model.add_argument("--teams", type=int, default=500)
    model.add_argument("--per-day", type=float, default=5.0,
                       help="submissions per team, task and day")
    model.add_argument("--peak", type=float, default=1.0,
                       help="busiest hour's arrival rate over the day's mean")
    model.add_argument("--algorithm-share", type=float, default=0.0,
                       help="share of submissions that are algorithm containers (0–1)")
    model.add_argument("--target-s", type=float, default=300.0,
                       help="95th-percentile wait allowed in the scoring and GPU queues")
    model.add_argument("--web-target-s", type=float, default=0.5)
    model.add_argument("--max-utilisation", type=float, default=0.85)
    model.add_argument("--gpu-s-per-mvoxel", type=float, default=Costs.gpu_s_per_mvoxel)
    model.add_argument("--ns-per-voxel", type=float, default=Costs.ns_per_voxel)
    sim = commands.add_parser("simulate", help="check the model against the real queue")
    sim.add_argument("--jobs", type=int, default=150, help="jobs per worker count")
    sim.add_argument("--mean-service", type=float, default=0.4,
                     help="seconds: the Decathlon mix is scaled to this mean")
    sim.add_argument("--utilisation", type=float, default=0.6)
    sim.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--broker", default=BROKER,
                     help="Redis database of this benchmark's own (default: database 6)")
    args = parser.parse_args()
    if args.command == "simulate":
        if args.jobs < 20 or not 0 < args.utilisation < 1 or args.mean_service <= 0:
            parser.error("need --jobs ≥ 20, 0 < --utilisation < 1 and --mean-service > 0")
        simulate(args)
        return
    if not (args.teams > 0 and args.per_day > 0 and args.peak > 0
            and 0 <= args.algorithm_share <= 1 and 0 < args.max_utilisation <= 1):
        parser.error("need --teams, --per-day, --peak > 0, 0 ≤ --algorithm-share ≤ 1 and "
                     "0 < --max-utilisation ≤ 1")
    challenge = Challenge(teams=args.teams, per_day=args.per_day, peak=args.peak,
                          algorithm_share=args.algorithm_share)
    costs = Costs(gpu_s_per_mvoxel=args.gpu_s_per_mvoxel, ns_per_voxel=args.ns_per_voxel)
    report(challenge, costs, target_s=args.target_s, web_target_s=args.web_target_s,
           max_utilisation=args.max_utilisation)


if __name__ == "__main__":
    main()
