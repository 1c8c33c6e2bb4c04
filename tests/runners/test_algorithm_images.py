"""Inspecting uploaded `docker save` archives without running them: users, platforms, layouts,
and archives built to mislead."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.algorithm_images import check_user, inspect_archive
from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive
from scorers.errors import InputError

LAYER = b"pretend layer tar " * 100


def _config(**overrides) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": "1000", "Entrypoint": ["python", "/app/run.py"], "Cmd": None},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(LAYER).hexdigest()]},
    }
    config.update(overrides)
    return json.dumps(config).encode()


def _write(path: Path, entries: list[tuple[str, bytes | str]]) -> Path:
    """A tar of (name, content) files; a str content makes a symlink to it."""
    with tarfile.open(path, "w") as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def _classic(tmp_path: Path, config: bytes | None = None, **manifest) -> Path:
    config = config or _config()
    name = hashlib.sha256(config).hexdigest()
    entry = {"Config": f"{name}.json", "RepoTags": ["algo:1"], "Layers": ["l1/layer.tar"]}
    entry.update(manifest)
    return _write(
        tmp_path / "image.tar",
        [(f"{name}.json", config), ("l1/layer.tar", LAYER),
         ("manifest.json", json.dumps([entry]).encode())],
    )


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_classic_layout(tmp_path):
    image = inspect_archive(_classic(tmp_path))

    assert image.image_id == "sha256:" + _hex(_config())
    assert image.user == "1000"
    assert (image.os, image.architecture) == ("linux", "amd64")
    assert image.entrypoint == ("python", "/app/run.py")
    assert image.cmd == ()
    assert image.size_bytes == len(LAYER)
    assert image.layers == 1


def test_oci_layout_of_docker_25_with_a_linked_duplicate_layer(tmp_path):
    config = _config()
    manifest = [{
        "Config": f"blobs/sha256/{_hex(config)}",
        "Layers": [f"blobs/sha256/{_hex(LAYER)}", "old/layer.tar"],
    }]
    archive = _write(tmp_path / "oci.tar", [
        ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
        (f"blobs/sha256/{_hex(config)}", config),
        (f"blobs/sha256/{_hex(LAYER)}", LAYER),
        ("old/layer.tar", f"../blobs/sha256/{_hex(LAYER)}"),
        ("index.json", b"{}"),
        ("manifest.json", json.dumps(manifest).encode()),
    ])

    image = inspect_archive(archive)

    assert image.image_id == "sha256:" + _hex(config)
    assert image.layers == 2
    assert image.size_bytes == 2 * len(LAYER)


def test_gzip_archives_and_the_image_archive_writer_agree(tmp_path):
    spec = ImageSpec(files={"/bin/tool": LayerFile(b"#!", 0o755)}, user="1000:1000", cmd=("tool",))
    plain = tmp_path / "a.tar"
    image_id = write_image_archive(spec, plain)
    compressed = tmp_path / "a.tar.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))

    assert inspect_archive(plain).image_id == image_id
    assert inspect_archive(compressed) == inspect_archive(plain)
    assert inspect_archive(compressed).cmd == ("tool",)


@pytest.mark.parametrize("user", ["", "root", "0", "00", "0:0", "0:1000", " root "])
def test_root_users_are_refused_with_the_fix(tmp_path, user):
    config = _config(config={"User": user})

    with pytest.raises(InputError, match="runs as root") as refused:
        inspect_archive(_classic(tmp_path, config))
    assert "USER 1000" in str(refused.value)


def test_a_missing_user_is_root(tmp_path):
    with pytest.raises(InputError, match="runs as root"):
        inspect_archive(_classic(tmp_path, _config(config={"Cmd": ["run"]})))


@pytest.mark.parametrize("user", ["algo", "1000:staff", "-1", "1000:"])
def test_user_names_cannot_be_verified_and_are_refused(user):
    with pytest.raises(InputError, match="USER 1000"):
        check_user(user)


@pytest.mark.parametrize("user", ["1000", "1000:1000", "65534:0", "1"])
def test_numeric_non_root_users_pass(user):
    assert check_user(user) == user


@pytest.mark.parametrize(
    ("overrides", "platform"),
    [({"architecture": "arm64"}, "linux/arm64"), ({"os": "windows"}, "windows/amd64")],
)
def test_other_platforms_are_refused(tmp_path, overrides, platform):
    with pytest.raises(InputError, match=f"built for {platform}.*--platform linux/amd64"):
        inspect_archive(_classic(tmp_path, _config(**overrides)))


def test_a_config_that_does_not_match_its_digest_is_refused(tmp_path):
    config = _config()
    archive = _write(tmp_path / "x.tar", [
        (f"{_hex(b'other')}.json", config),
        ("l1/layer.tar", LAYER),
        ("manifest.json", json.dumps([
            {"Config": f"{_hex(b'other')}.json", "Layers": ["l1/layer.tar"]}]).encode()),
    ])

    with pytest.raises(InputError, match="content address"):
        inspect_archive(archive)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("../evil", b"x")], "unsafe entry name"),
        ([("/etc/passwd", b"x")], "unsafe entry name"),
        ([("a/../../evil", b"x")], "unsafe entry name"),
        ([("link", "/etc/passwd")], "unsafe entry name"),
        ([("link", "../../etc/passwd")], "unsafe entry name"),
        ([("manifest.json", b"[]"), ("manifest.json", b"[]")], "twice"),
        ([("x", b"y")], "no manifest.json"),
        ([("manifest.json", b"[{")], "not valid JSON"),
        ([("manifest.json", b"[]")], "exactly one image"),
        ([("manifest.json", b'[{"Config": "c.json", "Layers": ["l"]}, {}]')], "exactly one"),
        ([("manifest.json", b'[{"Config": "c.json", "Layers": []}]')], "lacks"),
        ([("manifest.json", b'[{"Config": "c.json", "Layers": ["l"]}]')], "not a file in it"),
        ([("manifest.json", b'[{"Config": "/etc/c.json", "Layers": ["l"]}]')], "unsafe"),
        ([("manifest.json", b"[" * 100_000)], "not valid JSON"),
    ],
)
def test_misleading_archives_are_refused(tmp_path, entries, message):
    with pytest.raises(InputError, match=message):
        inspect_archive(_write(tmp_path / "bad.tar", entries))


def test_the_size_cap_applies_to_the_uncompressed_content(tmp_path):
    archive = _classic(tmp_path)
    compressed = tmp_path / "image.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes()))
    assert compressed.stat().st_size < 2000

    with pytest.raises(InputError, match="larger than the limit"):
        inspect_archive(compressed, max_bytes=len(LAYER) + 100)


def test_a_huge_config_is_not_read_into_memory(tmp_path):
    config = _config(padding="x" * (2 * 1024 * 1024))

    with pytest.raises(InputError, match="larger than"):
        inspect_archive(_classic(tmp_path, config))


@pytest.mark.parametrize("content", [b"", b"not a tar at all" * 100, b"\x1f\x8b\x08garbage"])
def test_files_that_are_not_archives_are_refused(tmp_path, content):
    path = tmp_path / "upload.tar"
    path.write_bytes(content)

    with pytest.raises(InputError, match=r"not a readable `docker save` archive|no manifest"):
        inspect_archive(path)


def test_messages_never_name_the_server_path(tmp_path):
    path = tmp_path / "secret-server-folder" / "upload.tar"
    path.parent.mkdir()
    path.write_bytes(b"junk" * 300)

    with pytest.raises(InputError) as refused:
        inspect_archive(path)
    assert "secret-server-folder" not in str(refused.value)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_corruption_is_an_input_error_or_still_valid(tmp_path, data):
    original = bytearray(_classic(tmp_path).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(original)))
    path = tmp_path / "fuzzed.tar"
    path.write_bytes(bytes(original[:cut]))

    try:
        image = inspect_archive(path)
    except InputError:
        return
    assert image.user == "1000"
    assert image.image_id.startswith("sha256:")
