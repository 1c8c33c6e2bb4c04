"""A 5 GB upload in chunks over HTTP to the web server ./run.sh runs (``runserver`` on the
embedded default: SQLite, in a fresh data folder).

    .venv/bin/python benchmarks/upload.py [--gigabytes 5] [--chunk-mib 16]

The file is an algorithm image the size of a large MSD test set's (a tar header, then zeros,
made as it is sent: the client holds one chunk), sent to an algorithm phase (the test
factories' rows). The request's check reads its first bytes and leaves the rest to a worker's
``validating`` step (no worker runs here), so what is measured is the transfer: throughput,
the slowest chunk request, the completing request, and the server's resident memory (VmRSS
before and after, and its peak, VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
MIB = 1024**2
SETUP = """
from challenges.models import Phase
from tests import factories
phase = factories.phase(submission_kind=Phase.ALGORITHM)
print(phase.id, factories.token(factories.participant(phase, "benchmark")))
"""


def manage(env: dict, *args: str) -> str:
    return subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def memory(pid: int) -> dict[str, float]:
    """The process's VmRSS and VmHWM in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024
    return values


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


def call(connection, method: str, path: str, token: str, body=None, headers=None):
    connection.request(method, path, body=body, headers={
        "Authorization": f"Token {token}", **(headers or {})})
    response = connection.getresponse()
    payload = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
    return response, json.loads(payload) if payload else {}


def upload(port: int, phase_id: str, token: str, size: int, chunk: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    _, session = call(connection, "POST", f"/api/v1/phases/{phase_id}/uploads/", token,
                      json.dumps({"file_name": "image.tar", "size": size}),
                      {"Content-Type": "application/json"})
    zeros = bytearray(chunk)
    first = bytearray(chunk)
    first[:512] = tarfile.TarInfo("layer.tar").tobuf()
    slowest = 0.0
    started = time.perf_counter()
    for offset in range(0, size, chunk):
        length = min(chunk, size - offset)
        body = memoryview(first if offset == 0 else zeros)[:length]
        sent = time.perf_counter()
        call(connection, "PUT", f"/api/v1/uploads/{session['id']}/", token, body,
             {"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"})
        slowest = max(slowest, time.perf_counter() - sent)
    transfer_s = time.perf_counter() - started
    completing = time.perf_counter()
    _, submission = call(connection, "POST", f"/api/v1/uploads/{session['id']}/complete/", token)
    return {"transfer_s": transfer_s, "slowest_chunk_s": slowest,
            "complete_s": time.perf_counter() - completing, "state": submission["state"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=5)
    parser.add_argument("--chunk-mib", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    size, chunk = int(args.gigabytes * 1000**3), args.chunk_mib * MIB
    data_dir = Path(tempfile.mkdtemp(prefix="podium-upload-bench-"))
    env = {**os.environ, "PODIUM_DATA_DIR": str(data_dir), "PODIUM_UPLOAD_CHUNK_BYTES": str(chunk),
           "DJANGO_SETTINGS_MODULE": "podium.settings", "PYTHONUNBUFFERED": "1"}
    server = None
    try:
        manage(env, "migrate", "--noinput")
        phase_id, token = manage(env, "shell", "-c", SETUP).splitlines()[-1].split()
        server = subprocess.Popen(
            [str(PYTHON), "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(args.port)
        before = memory(server.pid)
        result = upload(args.port, phase_id, token, size, chunk)
        after = memory(server.pid)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"upload of {size / 1000**3:.1f} GB in {args.chunk_mib} MiB chunks "
          f"({-(-size // chunk)} requests), runserver on the embedded default")
    print(f"  transfer           {result['transfer_s']:8.1f} s   "
          f"{size / 1000**2 / result['transfer_s']:8.1f} MB/s")
    print(f"  slowest chunk      {result['slowest_chunk_s']:8.2f} s")
    print(f"  complete request   {result['complete_s']:8.2f} s   → {result['state']}")
    print(f"  server RSS         {before['VmRSS']:8.1f} MiB before, {after['VmRSS']:.1f} MiB "
          f"after, peak {after['VmHWM']:.1f} MiB (growth {after['VmHWM'] - before['VmRSS']:.1f})")


if __name__ == "__main__":
    sys.exit(main())
