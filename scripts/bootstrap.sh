#!/usr/bin/env bash
# Installs what Podium needs into .venv (and, for the test suite, the Debian packages the
# integration tests drive). Idempotent: a second run only checks stamps.
#   scripts/bootstrap.sh runtime   # the server, the worker, the demo
#   scripts/bootstrap.sh test      # + reference libraries, podman, chromium
#   scripts/bootstrap.sh bench     # + the benchmarks' libraries and wrk (benchmarks/)
set -euo pipefail
profile=${1:-runtime}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Python 3.11: Django 5.2 LTS supports it, and the CPU torch wheel MONAI needs for the metric
# reference tests is built for it. PODIUM_PYTHON overrides.
find_python() {
    if [ -n "${PODIUM_PYTHON:-}" ]; then echo "$PODIUM_PYTHON"; return; fi
    for candidate in python3.11 "$(pyenv root 2>/dev/null)/versions/3.11"*/bin/python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    echo "bootstrap: Python 3.11 not found (set PODIUM_PYTHON)" >&2; exit 1
}

if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    rm -rf .venv
    "$(find_python)" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi

# Each profile installs everything the one before it does: the later stamps cover it.
case "$profile" in
    runtime) reqs=requirements.txt; covered_by="runtime test bench" ;;
    test) reqs=requirements-test.txt; covered_by="test bench" ;;
    bench) reqs=requirements-bench.txt; covered_by="bench" ;;
    *) echo "bootstrap: unknown profile '$profile' (runtime|test|bench)" >&2; exit 2 ;;
esac
hash=$(cat requirements*.txt | sha256sum | cut -c1-16)
stamp=.venv/.podium-$profile-$hash
installed=false
for covering in $covered_by; do
    if [ -f ".venv/.podium-$covering-$hash" ]; then installed=true; fi
done
if ! $installed; then
    echo "bootstrap: installing $reqs into .venv"
    .venv/bin/python -m pip install --quiet -r "$reqs"
    touch "$stamp"
fi
# The offline CLIs (podium-score, podium-rank) as commands that run from any folder: the
# checkout installed in editable mode, so they run these very files and no copy shadows them.
if [ ! -x .venv/bin/podium-score ] || [ pyproject.toml -nt .venv/bin/podium-score ]; then
    .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
fi

if [ "$profile" != runtime ]; then
    # Debian packages for the integration tests: the container engine (podman serving the
    # Docker API; runc because crun fails on hybrid cgroups), a tiny static rootfs for test
    # images, and the browser.
    need=()
    command -v podman >/dev/null || need+=(podman)
    command -v runc >/dev/null || need+=(runc)
    dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
    command -v chromium >/dev/null || need+=(chromium)
    command -v chromedriver >/dev/null || need+=(chromium-driver)
    command -v curl >/dev/null || need+=(curl)
    # The HTTP load generator benchmarks/pages.py --load drives the leaderboard page with.
    if [ "$profile" = bench ] && ! command -v wrk >/dev/null; then need+=(wrk); fi
    # The DICOM → NIfTI converter benchmarks/dicom.py compares the series conversion with.
    if [ "$profile" = bench ] && ! command -v dcm2niix >/dev/null; then need+=(dcm2niix); fi
    sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    apt_install() {
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "$@" >/dev/null
    }
    if [ ${#need[@]} -gt 0 ]; then
        echo "bootstrap: installing Debian packages: ${need[*]}"
        apt_install "${need[@]}"
    fi
    # Only to validate docker/compose.yaml; without recommends, so no Docker daemon comes along.
    if ! command -v docker-compose >/dev/null; then
        echo "bootstrap: installing Debian package docker-compose"
        apt_install --no-install-recommends docker-compose
    fi
fi
