"""Page performance on PostgreSQL: a phase with many entrants, each page's server time and size.

Builds, in a scratch database, one segmentation phase (20 cases × 2 labels) with ``--teams``
entrants of ``--submissions`` scored submissions each (bulk-created rows with random per-case
values: no real scoring), computes its snapshot and the challenge's overall ranking (timed),
then requests every leaderboard page, plot, export and submission list with Django's test
client in this process: the median server time over ``--repeats`` requests (after one warm-up
request), the number of queries, and the response's bytes as sent to a client that accepts
gzip and uncompressed. With ``--load SECONDS`` it also starts gunicorn (``--workers``
gthread workers of ``--threads`` threads) and drives the leaderboard page, as an anonymous
viewer that accepts gzip, with ``--clients`` concurrent keep-alive connections, printing
requests/s and latency percentiles: with wrk where it is installed (``scripts/bootstrap.sh
bench``), else with Python threads, which share the server's cores less thriftily.

    .venv/bin/python benchmarks/pages.py [--teams 200] [--submissions 5] [--repeats 7]
        [--load 10 --clients 50 --workers 2 --threads 4] [--database postgres://…]

It creates and drops its own database (``podium_bench_pages``).
"""

import argparse
import gzip
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = 20
LABELS = {"0": "background", "1": "liver", "2": "tumour"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--submissions", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--load", type=float, default=0.0,
                        help="seconds of concurrent load on the leaderboard page (0: none)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--database",
                        default="postgres://postgres@127.0.0.1:5432/podium_bench_pages")
    return parser.parse_args()


def configure(args, data_dir: Path) -> None:
    """A fresh scratch database, migrated (as the pipeline benchmark makes it), and the static
    files collected as a deployment has them."""
    from benchmarks.pipeline import configure as scratch_database

    scratch_database(argparse.Namespace(database=args.database, broker="memory://"), data_dir)
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)


def build(teams: int, submissions: int):
    """The phase, one participant (of the first team) and its organizer."""
    import numpy as np
    from django.contrib.auth import get_user_model

    from challenges.models import Challenge, GroundTruth, Participation, Phase, Task, Team
    from evaluation.models import CaseResult, Evaluation, State, Submission
    from evaluation.results import aggregate

    rng = np.random.default_rng(0)
    users = get_user_model().objects
    challenge = Challenge.objects.create(slug="bench", title="Bench", is_published=True)
    organizer = users.create_user(username="organizer", password="pw")  # noqa: S106
    challenge.organizers.add(organizer)
    cases = [f"case_{j:03d}" for j in range(CASES)]
    geometry = {"shape": [8, 8, 4], "spacing_mm": [1.0, 1.0, 2.0],
                "affine": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]}
    task = Task.objects.create(
        challenge=challenge, key="Task01_Bench", name="Bench", labels=LABELS,
        cases=[{"name": c, "image": f"imagesTs/{c}.nii.gz", "geometry": geometry} for c in cases])
    truth = GroundTruth.objects.create(task=task, version=1, content_sha256="0" * 64,
                                       files={c: {"path": f"groundtruth/x/{c}"} for c in cases})
    phase = Phase.objects.create(task=task, active_ground_truth=truth, name="Test",
                                 is_public=True, show_scores=True, show_case_results=True)
    config = phase.metric_config()
    geometries = {c: geometry for c in cases}
    members = users.bulk_create(get_user_model()(username=f"member{k:04d}") for k in range(teams))
    team_rows = Team.objects.bulk_create(Team(challenge=challenge, name=f"team {k:04d}")
                                         for k in range(teams))
    Participation.objects.bulk_create(
        Participation(challenge=challenge, user=user, team=team, status=Participation.ACCEPTED,
                      terms_accepted_at="2026-01-01T00:00:00Z")
        for user, team in zip(members, team_rows, strict=True))
    subs, evaluations, results = [], [], []
    for user, team in zip(members, team_rows, strict=True):
        skill = rng.uniform(0.5, 0.9)
        for _ in range(submissions):
            sub = Submission(phase=phase, creator=user, team=team, kind="predictions",
                             file="submissions/x/upload", file_name="preds.zip", file_size=3,
                             file_sha256="0" * 64, is_valid=True)
            grid = np.clip(skill + rng.normal(0, 0.1, size=(CASES, 2)), 0, 1)
            rows = [{"case": case, "label": label + 1,
                     "values": {"dice": float(grid[j, label]),
                                "nsd": float(min(1.0, grid[j, label] + 0.05)),
                                "hd95": float(8 * (1 - grid[j, label]))}}
                    for j, case in enumerate(cases) for label in range(2)]
            evaluation = Evaluation(submission=sub, ground_truth=truth, metric_config=config,
                                    state=State.SUCCEEDED, cases_total=CASES, cases_done=CASES,
                                    aggregate=aggregate(rows, config=config,
                                                        geometries=geometries))
            subs.append(sub)
            evaluations.append(evaluation)
            results += [CaseResult(evaluation=evaluation, missing=False, **row) for row in rows]
    Submission.objects.bulk_create(subs, batch_size=500)
    Evaluation.objects.bulk_create(evaluations, batch_size=500)
    CaseResult.objects.bulk_create(results, batch_size=2000)
    return phase, members[0], organizer


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(client, url: str, repeats: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
            body = b"".join(response.streaming_content) if response.streaming else \
                response.content
            times.append(time.perf_counter() - started)
    sent = len(body)
    raw = gzip.decompress(body) if response.get("Content-Encoding") == "gzip" else body
    return {"ms": 1000 * statistics.median(times), "queries": len(queries), "sent": sent,
            "raw": len(raw), "gzip": len(gzip.compress(raw))}


def page_urls(phase, participant, organizer) -> list[tuple[str, object, str]]:
    """(label, user or None, url) of every page measured."""
    from django.urls import NoReverseMatch, reverse

    board = f"/phases/{phase.id}/"
    urls = [("leaderboard page", None, board)]
    for name in ("blob", "significance", "cases", "podium"):
        try:
            urls.append((f"plot {name}", None,
                         reverse("phase-plot", args=[phase.id, name])))
        except NoReverseMatch:  # plots inline in the page (before they had URLs)
            break
    urls += [(label, None, board + path) for label, path in (
        ("leaderboard.json", "leaderboard.json"), ("leaderboard.csv", "leaderboard.csv"),
        ("cases.csv", "cases.csv"), ("cases.json", "cases.json"),
        ("ranking-input.csv", "ranking-input.csv"))]
    urls += [
        ("overall ranking", None, f"/challenges/{phase.task.challenge.slug}/leaderboard/"),
        ("submit page (participant)", participant, f"/phases/{phase.id}/submit/"),
        ("API list (participant)", participant, f"/api/v1/phases/{phase.id}/submissions/"),
        ("API list (organizer)", organizer, f"/api/v1/phases/{phase.id}/submissions/"),
    ]
    return urls


def load(args, phase, seconds: float) -> dict:
    """Requests/s and latency percentiles of ``--clients`` keep-alive connections on the page
    (wrk's, or the Python threads' where wrk is not installed)."""
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "podium.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "gthread",
         "--threads", str(args.threads), "--log-level", "warning"], cwd=ROOT, env=dict(os.environ))
    path = f"/phases/{phase.id}/"
    try:
        for _ in range(150):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", path)
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not answer")
        if shutil.which("wrk"):
            return wrk_load(f"http://127.0.0.1:{port}{path}", args.clients, seconds)
        return thread_load(port, path, args.clients, seconds)
    finally:
        server.terminate()
        server.wait()


WRK_DURATION = re.compile(r"([\d.]+)(us|ms|s|m|h)")
WRK_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def wrk_load(url: str, clients: int, seconds: float) -> dict:
    """wrk's figures for ``clients`` connections on two threads (its output parsed: requests/s,
    the 50th and 99th latency percentiles, the requests made and its socket errors)."""
    command = ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds:g}s", "--latency",
               "-H", "Accept-Encoding: gzip", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if failed:
        raise RuntimeError(f"wrk: {failed.group(1)} responses were not 2xx or 3xx:\n{output}")

    def percentile(share: int) -> float:
        found = re.search(rf"^\s*{share}%\s+{WRK_DURATION.pattern}\s*$", output, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"wrk: no {share} % latency in its output:\n{output}")
        return float(found.group(1)) * WRK_UNIT_S[found.group(2)]

    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        requests = int(re.search(r"(\d+) requests in ", output).group(1))
    except AttributeError:
        raise RuntimeError(f"wrk: no requests/s in its output:\n{output}") from None
    errors = re.search(r"Socket errors: (.*)", output)
    return {"tool": "wrk", "rps": rps, "p50": percentile(50), "p99": percentile(99),
            "n": requests, "errors": errors.group(1) if errors else "none"}


def thread_load(port: int, path: str, clients: int, seconds: float) -> dict:
    """The figures of ``clients`` Python threads, each a keep-alive connection."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < stop:
            started = time.perf_counter()
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"tool": "Python threads", "rps": len(latencies) / wall,
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(0.99 * (len(latencies) - 1))], "n": len(latencies),
            "errors": "none"}


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        configure(args, Path(data_dir))
        from django.test import Client

        from leaderboard import services

        started = time.perf_counter()
        phase, participant, organizer = build(args.teams, args.submissions)
        print(f"{args.teams} teams × {args.submissions} submissions built in "
              f"{time.perf_counter() - started:.1f} s")
        snapshot_s = timed(lambda: services.refresh(phase.id))
        overall_s = timed(lambda: services.refresh_challenge(phase.task.challenge_id))
        print(f"snapshot recomputation {snapshot_s:.2f} s, overall ranking {overall_s:.2f} s")
        print(f"{'page':<28}{'median ms':>10}{'queries':>9}{'sent KB':>10}{'raw KB':>10}"
              f"{'gzip KB':>10}")
        for label, user, url in page_urls(phase, participant, organizer):
            client = Client(HTTP_HOST="127.0.0.1")
            if user is not None:
                client.force_login(user)
            row = measure(client, url, args.repeats)
            print(f"{label:<28}{row['ms']:>10.1f}{row['queries']:>9}{row['sent'] / 1024:>10.1f}"
                  f"{row['raw'] / 1024:>10.1f}{row['gzip'] / 1024:>10.1f}")
        if args.load:
            busy = os.getloadavg()[0]  # the machine's load before the server and clients start
            result = load(args, phase, args.load)
            print(f"leaderboard page, {args.clients} clients ({result['tool']}), "
                  f"{args.workers} gunicorn workers × {args.threads} threads: "
                  f"{result['rps']:.1f} requests/s, p50 {1000 * result['p50']:.1f} ms, "
                  f"p99 {1000 * result['p99']:.1f} ms ({result['n']} requests; socket errors: "
                  f"{result['errors']}); load average before {busy:.1f}")


if __name__ == "__main__":
    main()
