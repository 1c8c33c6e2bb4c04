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
setsid .venv/bin/celery -A podium worker -B --loglevel=INFO >"$data/worker.log" 2>&1 &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null || true' EXIT INT TERM

echo
echo "Podium is running at http://$host:$port/   (worker log: $data/worker.log; Ctrl-C stops both)"
echo "Log in as participant / podium-demo, or as organizer / podium-organizer for the console."
echo "Mail (sign-up links, password resets) goes to ${PODIUM_EMAIL_HOST:+SMTP at }${PODIUM_EMAIL_HOST:-files in $data/mail/} (docs/accounts.md)."
echo
$py manage.py runserver "$host:$port" --noreload
