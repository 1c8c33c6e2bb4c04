"""Test algorithm images built from Debian's busybox-static: one shared layer (busybox, the
scripts below, tiny NIfTI predictions), one image per behaviour (its Cmd picks a script); and
multi-layer `docker save` archives in both layouts, honest or tampered with."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np

from evaluation.runners.image_archive import (
    ImageSpec,
    LayerFile,
    build_layer,
    write_image_archive,
)

BUSYBOX = Path("/bin/busybox")
CASES = ("hippocampus_001", "hippocampus_002")

# Each script is an "algorithm". They print what they observe as `key=value` lines on stdout.
COPY_PREDICTIONS = 'for f in /input/*.nii.gz; do cp "/algo/predictions/${f##*/}" /output/; done'
SCRIPTS = {
    "correct": COPY_PREDICTIONS,
    "network": f"""
echo "interfaces=$(ls /sys/class/net | tr '\\n' ' ')"
echo "routes=$(tail -n +2 /proc/net/route | wc -l)"
if nc -w 2 127.0.0.1 "$(cat /input/port)" </dev/null; then echo connect=ok
else echo connect=failed; fi
{COPY_PREDICTIONS}
""",
    "write_outside": f"""
for target in /evil.txt /bin/evil.txt /algo/evil.txt /algo/correct.sh /input/evil.txt; do
  if msg=$( {{ echo x > "$target"; }} 2>&1 ); then echo "write $target=allowed"
  else echo "write $target=refused: ${{msg##*: }}"; fi
done
if echo x > /tmp/scratch; then echo "write /tmp=allowed"; fi
{COPY_PREDICTIONS}
""",
    # The shell then waits on a fifo nobody opens (again when a signal interrupts the read): it
    # needs no fork to keep the run going.
    "forkbomb": "mkfifo /tmp/never; bomb() { bomb | bomb & }; bomb; "
    "while :; do read -r line < /tmp/never; done",
    "memory": 'echo started; x=0123456789abcdef; while :; do x="$x$x"; done',
    # A child (made the OOM killer's first choice) allocates past the memory limit and is
    # killed; the entrypoint writes every output and exits 0 anyway.
    "memory_child": f"""
sh -c 'echo 1000 > /proc/self/oom_score_adj; x=0123456789abcdef; while :; do x="$x$x"; done'
echo "child=$?"
{COPY_PREDICTIONS}
exit 0
""",
    # The same through the RAM-backed /tmp: the child writes an unlinked file until it is
    # killed (which frees the file, so the entrypoint can go on).
    "tmp_child": f"""
sh -c 'echo 1000 > /proc/self/oom_score_adj; exec 3>/tmp/fill; rm /tmp/fill
exec head -c 200000000 /dev/zero >&3'
echo "child=$?"
{COPY_PREDICTIONS}
exit 0
""",
    "mountinfo": f"echo mountinfo-begin; cat /proc/self/mountinfo; echo mountinfo-end\n"
    f"{COPY_PREDICTIONS}",
    "ids": 'echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"',
    "sleep": "echo started; sleep 600",
    "big_output": "head -c 3000000 /dev/zero > /output/big.bin; echo wrote=$?",
    "big_output_ignored": "head -c 3000000 /dev/zero > /output/big.bin; exit 0",
    "many_files": "i=0; while [ $i -lt 50 ]; do : > /output/f$i; i=$((i+1)); done; exit 0",
    "exit3": "echo to-stdout; echo to-stderr >&2; exit 3",
    "log_flood": "i=0; while [ $i -lt 20000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
    "i=$((i+1)); done; echo last-line",
    "probe": f"""
echo "uid=$(id -u)"
echo "gid=$(id -g)"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d ' \\t' \\
  | sed 's/:/=/'
while read -r dev mnt fs opts rest; do
  case "$mnt" in /|/tmp|/input|/output|/dev/shm) echo "mount $mnt=$fs $opts";; esac
done < /proc/mounts
writable=""
for mnt in $(awk '$3 == "tmpfs" {{print $2}}' /proc/mounts); do
  if [ -d "$mnt" ] && touch "$mnt/.probe" 2>/dev/null; then writable="$writable $mnt"; fi
done
echo "writable_tmpfs=$writable"
echo "nofile=$(ulimit -n)"
echo "core=$(ulimit -c)"
echo "fsize=$(ulimit -f)"
echo "nproc=$(ulimit -u)"
echo "pid1=$(cat /proc/1/comm)"
if touch /input/new 2>/dev/null; then echo input_write=allowed; else echo input_write=refused; fi
pattern="podium-hidden""-label"
found=""
for top in /*; do
  case "$top" in /proc|/sys|/dev) continue;; esac
  found="$found$(grep -rlsF "$pattern" "$top" | tr '\\n' ' ')"
  found="$found$(find "$top" -name '*label*' 2>/dev/null | tr '\\n' ' ')"
done
echo "label_found=$found"
echo "input=$(ls /input | tr '\\n' ' ')"
{COPY_PREDICTIONS}
""",
}


def prediction(case: str) -> np.ndarray:
    """The tiny label map baked in for ``case`` (differs per case)."""
    array = np.zeros((4, 5, 3), dtype=np.uint8)
    array[1:3, 1 : 2 + CASES.index(case), 1] = 1
    array[2, 3, 2] = 2
    return array


def _nifti_bytes(array: np.ndarray) -> bytes:
    image = nib.Nifti1Image(array, affine=np.diag([0.8, 0.8, 2.5, 1.0]))
    return image.to_bytes()


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def base_spec(*, cmd: tuple[str, ...] = (), user: str = "1000:1000",
              extra_files: dict[str, bytes] | None = None) -> ImageSpec:
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    files = {"/bin/busybox": LayerFile(BUSYBOX.read_bytes(), 0o755)}
    files.update({path: LayerFile(content) for path, content in (extra_files or {}).items()})
    for name, body in SCRIPTS.items():
        files[f"/algo/{name}.sh"] = LayerFile(body.encode(), 0o755)
    for case in CASES:
        files[f"/algo/predictions/{case}.nii.gz"] = LayerFile(_gz(_nifti_bytes(prediction(case))))
    return ImageSpec(
        files=files,
        symlinks={f"/bin/{a}": "busybox" for a in applets if a != "busybox"},
        user=user,
        cmd=cmd,
    )


def write_algorithm(folder: Path, behaviour: str, *, user: str = "1000:1000",
                    extra_files: dict[str, bytes] | None = None) -> tuple[Path, str]:
    """A docker-save archive of the image that runs ``/algo/<behaviour>.sh``, with
    ``extra_files`` (in-image path → content) added; (path, id)."""
    spec = base_spec(cmd=("/bin/sh", f"/algo/{behaviour}.sh"), user=user,
                     extra_files=extra_files)
    path = folder / f"{behaviour}-{user.replace(':', '_') or 'nouser'}.tar"
    return path, write_image_archive(spec, path, tag=f"podium-test/{behaviour}:latest")


def write_inputs(folder: Path) -> None:
    """The test images a run sees (contents irrelevant to the scripts)."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        (folder / f"{case}.nii.gz").write_bytes(_gz(_nifti_bytes(np.ones((4, 5, 3), np.int16))))


def nifti_array(path: Path) -> np.ndarray:
    return np.asarray(nib.Nifti1Image.from_bytes(_ungz(path.read_bytes())).dataobj)


def _ungz(data: bytes) -> bytes:
    return gzip.decompress(data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def layer(files: dict[str, bytes]) -> bytes:
    """A layer tar holding ``files`` (absolute in-image paths)."""
    return build_layer(ImageSpec(files={p: LayerFile(c, 0o755) for p, c in files.items()}))


def image_config(layers: list[bytes], *, user: str = "1000:1000",
                 cmd: tuple[str, ...] = ("/bin/true",)) -> bytes:
    """The image config of ``layers`` (plain tars; their digests are the config's diff_ids)."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": user, "Cmd": list(cmd), "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha256(x)}" for x in layers]},
    }
    return json.dumps(config, sort_keys=True).encode()


def docker_save(
    path: Path,
    config: bytes,
    layers: list[bytes],
    *,
    layout: str = "classic",
    order: list[int] | None = None,
    tamper: Callable[[dict[str, bytes]], None] | None = None,
) -> str:
    """Write a `docker save` archive of ``config`` and the layer files ``layers`` (stored as
    given, plain or gzip) at ``path``; return the image id (sha256 of the config).

    ``layout`` is "classic" (``<hex>.json``, ``<hex>/layer.tar``) or "oci" (Docker 25+:
    ``blobs/sha256/<hex>``, ``index.json``, ``oci-layout``). ``order`` lists the layers in the
    manifest (default: as given). ``tamper`` may change the entries (name → content) before
    they are written, for archives built to mislead.
    """
    order = list(range(len(layers))) if order is None else order
    config_hex = sha256(config)
    if layout == "classic":
        config_name = f"{config_hex}.json"
        layer_names = [f"{sha256(x)}/layer.tar" for x in layers]
    else:
        config_name = f"blobs/sha256/{config_hex}"
        layer_names = [f"blobs/sha256/{sha256(x)}" for x in layers]
    entries = {config_name: config, **dict(zip(layer_names, layers, strict=True))}
    manifest = [{"Config": config_name, "RepoTags": None,
                 "Layers": [layer_names[i] for i in order]}]
    entries["manifest.json"] = json.dumps(manifest).encode()
    if layout == "oci":
        entries["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
        entries["index.json"] = b'{"schemaVersion": 2, "manifests": []}'
    if tamper is not None:
        tamper(entries)
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return f"sha256:{config_hex}"
