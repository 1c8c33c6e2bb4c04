"""The ``podium`` command (docs/cli.md). Every failure is one line on stderr, the server's
message where it sent one, and exit code 1; ``podium wait`` says how a submission ended in its
exit code (0 succeeded, 1 failed, 2 cancelled or timed out); usage errors exit 2."""

import argparse
import getpass
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from . import config, output
from .client import Client
from .errors import ApiError, PodiumError, TimedOut
from .results import heading, rows

EXIT_FAILED = 1
EXIT_CANCELLED = 2
EXIT_INTERRUPTED = 130


def _print_error(message: str) -> None:
    print(f"podium: error: {message}", file=sys.stderr)


@contextmanager
def _bar(description: str, *, quiet: bool):
    """A progress bar in bytes with rate and ETA on stderr, drawn from the first progress
    report on; a callback ``(done, total)``. A failure wipes it, leaving the error alone."""
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = tqdm(desc=description, total=total, initial=done, unit="B", unit_scale=True,
                       unit_divisor=1024, file=sys.stderr, mininterval=0.2, dynamic_ncols=True)
        bar.total, bar.n = total, done
        if done >= total:
            bar.refresh()
        else:
            bar.update(0)  # redraws at most every mininterval

    try:
        yield update
    except BaseException:
        if bar is not None:
            bar.leave = False
        raise
    finally:
        if bar is not None:
            bar.close()


def cmd_login(args) -> int:
    token = args.token or os.environ.get("PODIUM_TOKEN") or getpass.getpass("API token: ")
    client = Client.login(args.url, token.strip(), save=True)
    print(f"Logged in to {client.url}; the token is stored in {config.config_path()} "
          "(readable by you only).")
    return 0


def cmd_challenges(args) -> int:
    challenges = args.client.challenges()
    if args.format == "json":
        output.as_json(challenges)
        return 0
    output.table(["slug", "title", "phases", "approval"],
                 [[c["slug"], c["title"], len(c.get("phases", [])),
                   "required" if c.get("requires_approval") else "no"] for c in challenges])
    return 0


def cmd_phases(args) -> int:
    phases = args.client.phases(args.challenge)
    if args.format == "json":
        output.as_json(phases)
        return 0
    output.table(["id", "task", "name", "kind", "open"],
                 [[p["id"], p["task"], p["name"], p["submission_kind"], p["open"]]
                  for p in phases])
    return 0


def cmd_join(args) -> int:
    challenge = args.client.challenge(args.challenge)
    if challenge.get("terms") and not args.accept_terms:
        raise PodiumError(
            f"{challenge['slug']} has terms of participation: read them at "
            f"{args.client.url}/challenges/{challenge['slug']}/rules/ and run "
            f"`podium join {challenge['slug']} --accept-terms`")
    participation = args.client.join(challenge["slug"])
    if participation["status"] == "accepted":
        print(f"Joined {challenge['slug']}: accepted; you can download its test data and "
              "submit.")
    elif participation["status"] == "pending":
        print(f"Asked to join {challenge['slug']}: waiting for an organizer's approval.")
    else:
        raise PodiumError(f"your request to join {challenge['slug']} was not accepted")
    return 0


def cmd_download(args) -> int:
    phase = args.client.phase(args.phase)
    folder = Path(args.to or phase["task"])
    with _bar("download", quiet=args.quiet) as progress:
        done = args.client.download(args.phase, folder, progress=progress)
    counts = {action: sum(d.action == action for d in done)
              for action in ("downloaded", "resumed", "skipped")}
    print(f"{len(done)} test images in {folder}/: {counts['downloaded']} downloaded, "
          f"{counts['resumed']} resumed, {counts['skipped']} already complete.")
    return 0


def cmd_submit(args) -> int:
    def resumed(offset: int, size: int) -> None:
        print(f"Resuming the earlier upload at byte {offset} of {size}.", file=sys.stderr)

    with _bar(args.file.name, quiet=args.quiet) as progress:
        submitted = args.client.submit(args.phase, args.file, description=args.description,
                                       progress=progress, on_resume=resumed)
    print(f"Submitted {args.file.name}: submission {submitted['id']}, {submitted['state']}.")
    if args.wait:
        return _wait(args.client, submitted["id"], args)
    return 0


def _status_lines(payload: dict) -> list[tuple[str, object]]:
    progress = payload.get("progress") or {}
    lines = [("submission", payload["id"]), ("phase", payload["phase"]),
             ("file", payload["file_name"]), ("submitted", payload["created"]),
             ("state", payload["state"])]
    if progress.get("total"):
        lines.append(("progress", f"{progress['done']}/{progress['total']} cases"))
    if payload.get("message"):
        lines.append(("message", payload["message"]))
    return lines


def cmd_status(args) -> int:
    payload = args.client.submission(args.submission)
    if args.format == "json":
        output.as_json(payload)
    else:
        for name, value in _status_lines(payload):
            print(f"{name + ':':<12}{value}")
    return 0


def _wait(client: Client, submission_id: str, args) -> int:
    seen = []

    def show(payload: dict) -> None:
        if not args.quiet and payload["state"] not in seen:
            seen.append(payload["state"])
            print(f"{submission_id}: {payload['state']}", file=sys.stderr)

    try:
        payload = client.wait(submission_id, timeout=args.timeout, interval=args.interval,
                              on_poll=show)
    except TimedOut as exc:
        _print_error(str(exc))
        return EXIT_CANCELLED
    message = f": {payload['message']}" if payload.get("message") else ""
    print(f"{payload['state']}{message}")
    return {"succeeded": 0, "cancelled": EXIT_CANCELLED}.get(payload["state"], EXIT_FAILED)


def cmd_wait(args) -> int:
    return _wait(args.client, args.submission, args)


def cmd_results(args) -> int:
    submission = args.client.submission(args.submission)
    if submission.get("results") is None:
        state = submission["state"]
        raise PodiumError(f"submission {args.submission} has no results ({state}"
                          + ("; the phase does not show scores" if "results" not in submission
                             else "") + ")")
    labels = args.client.phase(submission["phase"])["task_detail"].get("labels") or {}
    metrics, found = rows(submission, labels)
    if args.format == "json":
        output.as_json({"submission": submission["id"], "phase": submission["phase"],
                        "state": submission["state"],
                        "ground_truth_version": submission["results"]["ground_truth_version"],
                        "metrics": metrics,
                        "aggregate": [r for r in found if r["case"] is None],
                        "cases": [r for r in found if r["case"] is not None]})
        return 0
    names = [m["name"] for m in metrics]
    with_cases = any(r["case"] is not None for r in found)
    headers = [*(["case"] if with_cases else []), "label", *map(heading, metrics)]
    if args.format == "csv":
        output.as_csv(["case", "label", "label_name", *map(heading, metrics)],
                      [[r["case"] or "", r["label"], r["label_name"], *(r[m] for m in names)]
                       for r in found])
        return 0
    output.table(headers, [[*([r["case"] or "all"] if with_cases else []), r["label_name"],
                             *(output.number(r[m["name"]], m.get("decimals", 4))
                               for m in metrics)] for r in found])
    return 0


def cmd_leaderboard(args) -> int:
    board = args.client.leaderboard(args.phase)
    if args.format == "json":
        output.as_json(board)
        return 0
    entries = board.get("entries") or []
    score = board.get("metric") or "score"
    headers = ["rank", "entrant", score, "submitted", "description"]
    table = [[e["rank"], e["entrant"], e.get("score"), e.get("submitted"),
              e.get("description", "")] for e in entries]
    if args.format == "csv":
        output.as_csv(headers, table)
    else:
        output.table(headers, table)
    return 0


def cmd_tokens(args) -> int:
    if args.action == "create":
        token = args.client.create_token(name=args.name, expires_in_days=args.expires_days)
        expires = token["expires_at"] or "never"
        print(f"Token {token['id']} ({token['name'] or 'unnamed'}), expires: {expires}")
        print(token["key"])
        print("This is the only time the key is shown: store it now.", file=sys.stderr)
        return 0
    if args.action == "revoke":
        if args.id is None:
            raise PodiumError("say which token to revoke: `podium tokens revoke ID`")
        args.client.revoke_token(args.id)
        print(f"Token {args.id} revoked: it no longer works.")
        return 0
    tokens = args.client.tokens()
    output.table(["id", "name", "prefix", "created", "expires", "last used"],
                 [[t["id"], t["name"], t["prefix"] + "…", t["created"],
                   t["expires_at"] or "never", t["last_used_at"]] for t in tokens])
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="podium", description="A Podium challenge server's "
                                  "participant commands (docs/cli.md).")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, function, text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.set_defaults(run=function)
        return cmd

    def formats(cmd, choices=("table", "json")) -> None:
        cmd.add_argument("--format", choices=choices, default="table")

    login = command("login", cmd_login, "store the server's URL and your API token")
    login.add_argument("url", help="the server, e.g. https://podium.example")
    login.add_argument("--token", help="the API token (default: PODIUM_TOKEN, else asked)")
    formats(command("challenges", cmd_challenges, "list the challenges you can see"))
    phases = command("phases", cmd_phases, "list a challenge's phases")
    phases.add_argument("challenge", help="the challenge's slug or id")
    formats(phases)
    join = command("join", cmd_join, "join a challenge")
    join.add_argument("challenge", help="the challenge's slug or id")
    join.add_argument("--accept-terms", action="store_true",
                      help="accept the challenge's terms of participation")
    download = command("download", cmd_download, "download a phase's test images "
                       "(again: only what is missing)")
    download.add_argument("phase", help="the phase's id")
    download.add_argument("--to", help="the folder (default: the task's key)")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    submit = command("submit", cmd_submit, "upload a file as a submission (resumable)")
    submit.add_argument("file", type=Path)
    submit.add_argument("--phase", required=True, help="the phase's id")
    submit.add_argument("--description", default="", help="your words for the submission")
    submit.add_argument("--wait", action="store_true", help="then wait as `podium wait` does")
    submit.add_argument("--quiet", action="store_true", help="no progress bar")
    status = command("status", cmd_status, "a submission's state")
    status.add_argument("submission", help="the submission's id")
    formats(status)
    wait = command("wait", cmd_wait, "wait until a submission is finished; exit code 0 "
                   "succeeded, 1 failed, 2 cancelled or timed out")
    wait.add_argument("submission", help="the submission's id")
    for cmd in (wait, submit):
        cmd.add_argument("--timeout", type=float, default=None, help="seconds (default: none)")
        cmd.add_argument("--interval", type=float, default=5, help="seconds between polls")
    wait.add_argument("--quiet", action="store_true", help="print only the final state")
    results = command("results", cmd_results, "a submission's scores")
    results.add_argument("submission", help="the submission's id")
    formats(results, ("table", "json", "csv"))
    board = command("leaderboard", cmd_leaderboard, "a phase's leaderboard")
    board.add_argument("phase", help="the phase's id")
    formats(board, ("table", "json", "csv"))
    tokens = command("tokens", cmd_tokens, "list, create or revoke your API tokens")
    tokens.add_argument("action", nargs="?", choices=("list", "create", "revoke"),
                        default="list")
    tokens.add_argument("id", nargs="?", type=int, help="the token to revoke")
    tokens.add_argument("--name", default="", help="what the new token is for")
    tokens.add_argument("--expires-days", type=int, default=None,
                        help="the new token's lifetime in days (default: never expires)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command != "login":
            args.client = Client.from_config()
        return args.run(args)
    except ApiError as exc:
        hint = "; run `podium login` with a valid token" if exc.status == 401 else ""
        _print_error(f"{exc}{hint}")
    except PodiumError as exc:
        _print_error(str(exc))
    except BrokenPipeError:  # the reader went away (`podium results … | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _print_error(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        _print_error("interrupted; run the same command again to go on where it stopped")
        return EXIT_INTERRUPTED
    return EXIT_FAILED
