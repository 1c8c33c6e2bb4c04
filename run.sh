#!/usr/bin/env bash
# Command 1 of the README: install what is needed, then run Podium on the embedded default
# (SQLite and a filesystem Celery broker under var/, one worker) with a demo challenge.
set -euo pipefail
# Everything Podium writes is its own user's only (docs/security.md), the logs included.
umask 077
cd "$(dirname "$0")"
scripts/bootstrap.sh runtime
export PYTHONUNBUFFERED=1
py=.venv/bin/python
data=${PODIUM_DATA_DIR:-var}
mkdir -p "$data"
data=$(cd "$data" && pwd)
export PODIUM_DATA_DIR=$data
$py manage.py migrate --noinput
$py manage.py collectstatic --noinput >/dev/null
$py manage.py make_demo

host=${PODIUM_HOST:-127.0.0.1}
port=${PODIUM_PORT:-8000}
# Links in mails (verification, results) point at this server.
export PODIUM_BASE_URL=${PODIUM_BASE_URL:-http://$host:$port}

# The worker runs in a session of its own: Ctrl-C reaches only the server, and the trap asks the
# worker's main process to shut down its pool itself (a pool child killed directly by the
# terminal's signal can leave the main process waiting forever on a lock the child held).
# A loop supervises it, as systemd's Restart=always or compose's restart policy do elsewhere: a
# worker that exits (its main process can die when the broker goes away, docs/reliability.md)
# is started again after 5 s; TERM is passed on to it and ends the loop. Its -B runs Celery
# beat, the one scheduler of this deployment (the reaper, the leaderboard healer, digests).
supervise='
  stopping=0
  trap "stopping=1; kill -TERM \$child 2>/dev/null" TERM
  while [ $stopping = 0 ]; do
    .venv/bin/celery -A podium worker -B --loglevel=INFO &
    child=$!
    wait $child; status=$?
    [ $stopping = 1 ] && { wait $child; break; }
    echo "run.sh: the worker exited with status $status; starting it again in 5 s" >&2
    sleep 5
  done'
setsid bash -c "$supervise" >"$data/worker.log" 2>&1 &
worker=$!
# While the server runs, manage.py started without PODIUM_DATA_DIR finds its data folder here
# (podium/settings.py); it is forgotten when the server stops.
mkdir -p var
printf '%s\n' "$data" >var/data_dir
trap 'rm -f var/data_dir; kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null || true' EXIT INT TERM

echo
echo "Podium is running at http://$host:$port/   (worker log: $data/worker.log; Ctrl-C stops both)"
echo "Log in as participant / podium-demo, or as organizer / podium-organizer for the console."
echo "Mail (sign-up links, password resets) goes to ${PODIUM_EMAIL_HOST:+SMTP at }${PODIUM_EMAIL_HOST:-files in $data/mail/} (docs/accounts.md)."
echo
$py manage.py runserver "$host:$port" --noreload
