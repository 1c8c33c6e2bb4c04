"""The hostile corpus (tests/security/corpus.py) through the platform's real paths, measured in
a process of its own (tests/security/measure.py): every upload refused with its own message,
nothing left behind, and no stage growing the process or spending CPU beyond a small bound —
the legitimate content of the cube task is 1 MiB per case at most."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.corpus import CORPUS

ROOT = Path(__file__).resolve().parents[2]
# A small constant: every hostile upload here is refused before it is read in full, and the
# largest legitimate file of the cube task is 1 MiB.
PEAK_GROWTH_MIB = 32
CPU_S = 3.0


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "data").mkdir()
    out = folder / "out.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.security.measure", str(folder / "data"), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    print("\n" + "\n".join(
        f"{name}: {json.dumps(result.get('stages'))} — {result.get('message', '')[:90]}"
        for name, result in results.items()))
    return results


@pytest.mark.parametrize("hostile", CORPUS, ids=[hostile.name for hostile in CORPUS])
def test_hostile_upload_is_refused_cheaply_with_its_message(measured, hostile, tmp_path):
    result = measured[hostile.name]
    assert "crash" not in result, result["crash"]
    assert result["refused_at"] == "request" or result["state"] == "failed", result
    message = result["message"]
    assert hostile.expect in message
    assert "internal error" not in message
    for leak in ("/tmp", "/work", "/var", "podium-test", str(ROOT)):
        assert leak not in message
    assert result["files_left"] == [] and result["work_dir_left"] == []
    for stage, cost in result["stages"].items():
        assert cost["peak_growth_mib"] <= PEAK_GROWTH_MIB, (stage, cost)
        assert cost["cpu_s"] <= CPU_S, (stage, cost)
