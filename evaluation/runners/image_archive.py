"""Write a one-layer image as a ``docker save`` archive, without a daemon or a registry.

The runner uses it for its output-holder helper image (one static binary), and the tests use it
for their algorithm images built from Debian's busybox-static. The layout is the classic
``docker save`` one that Docker Engine and podman both load: ``manifest.json``, the image config
``<digest>.json`` and ``<digest>/layer.tar`` (Docker image specification v1.2).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LayerFile:
    """One regular file of the layer: its content and mode (owned by root)."""

    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class ImageSpec:
    """What goes into the image: files, symlinks, empty directories, and the config.

    ``files`` and ``symlinks`` map absolute in-image paths to content or link target;
    ``user`` is the image config's ``User`` (e.g. ``"1000"``); ``cmd`` and ``entrypoint`` are
    the exec forms; ``architecture``/``os`` the platform the config declares.
    """

    files: dict[str, LayerFile] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    directories: tuple[str, ...] = ()
    user: str = "1000"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/bin",)
    architecture: str = "amd64"
    os: str = "linux"
    labels: dict[str, str] = field(default_factory=dict)


def _tar_member(name: str, kind: bytes, *, size: int = 0, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def build_layer(spec: ImageSpec) -> bytes:
    """The layer tar (uncompressed, reproducible: fixed mtimes and owners, sorted names)."""
    directories = set(d.strip("/") for d in spec.directories)
    for path in [*spec.files, *spec.symlinks]:
        directories.update(_parents(path))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(directories):
            tar.addfile(_tar_member(directory, tarfile.DIRTYPE))
        for path in sorted(spec.files):
            item = spec.files[path]
            member = _tar_member(path, tarfile.REGTYPE, size=len(item.content), mode=item.mode)
            tar.addfile(member, io.BytesIO(item.content))
        for path in sorted(spec.symlinks):
            member = _tar_member(path, tarfile.SYMTYPE, mode=0o777)
            member.linkname = spec.symlinks[path]
            tar.addfile(member)
    return buffer.getvalue()


def build_config(spec: ImageSpec, *, layer_digest: str) -> bytes:
    """The image config JSON (OCI image config / Docker image JSON) for one layer."""
    config = {
        "architecture": spec.architecture,
        "os": spec.os,
        "config": {
            "User": spec.user,
            "Env": list(spec.env),
            "Entrypoint": list(spec.entrypoint) or None,
            "Cmd": list(spec.cmd) or None,
            "Labels": dict(spec.labels) or None,
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "podium image_archive"}],
    }
    return json.dumps(config, sort_keys=True).encode()


def write_image_archive(spec: ImageSpec, path: Path, *, tag: str | None = None) -> str:
    """Write ``spec`` as a ``docker save`` archive at ``path``; return the image id.

    The image id is ``sha256:<hex>`` of the config JSON, which is what Docker Engine and podman
    report for the loaded image (content addressing: the same spec gives the same id).
    """
    layer = build_layer(spec)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = build_config(spec, layer_digest=layer_digest)
    config_hex = hashlib.sha256(config).hexdigest()
    layer_name = f"{layer_digest.removeprefix('sha256:')}/layer.tar"
    manifest = [
        {
            "Config": f"{config_hex}.json",
            "RepoTags": [tag] if tag else None,
            "Layers": [layer_name],
        }
    ]
    entries = {
        f"{config_hex}.json": config,
        layer_name: layer,
        "manifest.json": json.dumps(manifest).encode(),
    }
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tar_member(layer_name.split("/")[0], tarfile.DIRTYPE))
        for name, content in entries.items():
            member = _tar_member(name, tarfile.REGTYPE, size=len(content), mode=0o644)
            tar.addfile(member, io.BytesIO(content))
    return f"sha256:{config_hex}"
