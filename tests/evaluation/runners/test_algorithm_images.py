"""Inspecting uploaded `docker save` archives without running them: users, platforms, layouts,
layer digests, and archives built to mislead."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from evaluation.algorithm_images import check_user, inspect_archive
from evaluation.runners.image_archive import ImageSpec, LayerFile, write_image_archive
from tests.evaluation.runners import images

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
    assert image.user == "1000:1000"
    assert (image.os, image.architecture) == ("linux", "amd64")
    assert image.entrypoint == ("python", "/app/run.py")
    assert image.cmd == ()
    assert image.size_bytes == len(LAYER)
    assert image.layers == 1


def test_oci_layout_of_docker_25_with_a_linked_duplicate_layer(tmp_path):
    digest = "sha256:" + _hex(LAYER)
    config = _config(rootfs={"type": "layers", "diff_ids": [digest, digest]})
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
    unzipped, zipped = inspect_archive(plain), inspect_archive(compressed)
    assert dataclasses.replace(zipped, archive_sha256="") == dataclasses.replace(
        unzipped, archive_sha256="")
    assert zipped.cmd == ("tool",)


@pytest.mark.parametrize("user", ["", "root", "0", "00", "0:0", "0:1000", ":1000", ":0"])
def test_root_users_are_refused_with_the_fix(tmp_path, user):
    # ":1000" is uid 0 for runc (an empty user is the default, root).
    config = _config(config={"User": user})

    with pytest.raises(InvalidInput, match="runs as root") as refused:
        inspect_archive(_classic(tmp_path, config))
    assert "USER 1000" in str(refused.value)


@pytest.mark.parametrize("user", ["1000:0", "1000:00", "1000:root", "65534:0"])
def test_the_root_group_is_refused_like_root(tmp_path, user):
    with pytest.raises(InvalidInput, match=r"group is root.*USER 1000"):
        inspect_archive(_classic(tmp_path, _config(config={"User": user})))


def test_a_missing_user_is_root(tmp_path):
    with pytest.raises(InvalidInput, match="runs as root"):
        inspect_archive(_classic(tmp_path, _config(config={"Cmd": ["run"]})))


@pytest.mark.parametrize(
    "user",
    [
        "algo", "1000:staff", "-1", "1000:", " root ",
        # Unicode digits: str.isdigit() says yes, int() refuses ("¹") or reads them ("١٠٠٠").
        "¹", "1000:²", "١٠٠٠", "1000:١٠٠٠",
        # Readings that differ between parsers, or that runc reads as something else.
        " 1000", "1000 ", "1000\n", "+1000", "01000", "1000:01000", "1_000", "1e3",
        "1000:1000:1000", "1000:+1000",
    ],
)
def test_users_that_are_not_plain_numbers_are_refused(tmp_path, user):
    with pytest.raises(InvalidInput, match=r"not a numeric UID or UID:GID.*USER 1000"):
        inspect_archive(_classic(tmp_path, _config(config={"User": user})))


@pytest.mark.parametrize(
    "user", ["2147483648", "4294967295", "4294967296", "1000:2147483648", "9" * 400]
)
def test_ids_past_what_runc_accepts_are_refused_at_upload(tmp_path, user):
    # runc (so Docker Engine and podman) fails such a container at start: "uids and gids
    # must be in range 0-2147483647"; it used to surface as an internal error.
    with pytest.raises(InvalidInput, match=r"out of range.*2147483647.*USER 1000") as refused:
        inspect_archive(_classic(tmp_path, _config(config={"User": user})))
    assert len(str(refused.value)) < 300


@pytest.mark.parametrize(
    ("user", "runs_as"),
    [("1000", "1000:1000"), ("1000:1000", "1000:1000"), ("1000:100", "1000:100"),
     ("1", "1:1"), ("2147483647:2147483647", "2147483647:2147483647")],
)
def test_numeric_non_root_users_pass_with_an_explicit_group(user, runs_as):
    # Without a group, the engine would take it from the image's /etc/passwd (which may say
    # 0) and add supplementary groups from its /etc/group: the runner always names it.
    assert check_user(user) == runs_as


@pytest.mark.parametrize(
    ("overrides", "platform"),
    [({"architecture": "arm64"}, "linux/arm64"), ({"os": "windows"}, "windows/amd64")],
)
def test_other_platforms_are_refused(tmp_path, overrides, platform):
    with pytest.raises(InvalidInput, match=f"built for {platform}.*--platform linux/amd64"):
        inspect_archive(_classic(tmp_path, _config(**overrides)))


def test_a_config_that_does_not_match_its_digest_is_refused(tmp_path):
    config = _config()
    archive = _write(tmp_path / "x.tar", [
        (f"{_hex(b'other')}.json", config),
        ("l1/layer.tar", LAYER),
        ("manifest.json", json.dumps([
            {"Config": f"{_hex(b'other')}.json", "Layers": ["l1/layer.tar"]}]).encode()),
    ])

    with pytest.raises(InvalidInput, match="content address"):
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
    with pytest.raises(InvalidInput, match=message):
        inspect_archive(_write(tmp_path / "bad.tar", entries))


def test_the_size_cap_applies_to_the_uncompressed_content(tmp_path):
    archive = _classic(tmp_path)
    compressed = tmp_path / "image.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes()))
    assert compressed.stat().st_size < 2000

    with pytest.raises(InvalidInput, match="larger than the limit"):
        inspect_archive(compressed, max_bytes=len(LAYER) + 100)


def test_a_huge_config_is_not_read_into_memory(tmp_path):
    config = _config(padding="x" * (2 * 1024 * 1024))

    with pytest.raises(InvalidInput, match="larger than"):
        inspect_archive(_classic(tmp_path, config))


@pytest.mark.parametrize("content", [b"", b"not a tar at all" * 100, b"\x1f\x8b\x08garbage"])
def test_files_that_are_not_archives_are_refused(tmp_path, content):
    path = tmp_path / "upload.tar"
    path.write_bytes(content)

    with pytest.raises(InvalidInput, match=r"not a readable `docker save` archive|no manifest"):
        inspect_archive(path)


def test_messages_never_name_the_server_path(tmp_path):
    path = tmp_path / "secret-server-folder" / "upload.tar"
    path.parent.mkdir()
    path.write_bytes(b"junk" * 300)

    with pytest.raises(InvalidInput) as refused:
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
    except InvalidInput:
        return
    assert image.user == "1000:1000"
    assert image.image_id.startswith("sha256:")


# --- the whole upload and its layers ------------------------------------------------------------

BASE = images.layer({"/bin/tool": b"tool v1"})
APP = images.layer({"/app/run": b"#!/bin/sh\necho honest"})
EVIL = images.layer({"/app/run": b"#!/bin/sh\necho evil"})


def test_the_archive_digest_covers_every_byte_as_uploaded(tmp_path):
    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([BASE, APP]), [BASE, APP])
    padded = tmp_path / "padded.tar"
    padded.write_bytes(path.read_bytes() + b"\0" * 4096)  # past the tar's end marker
    compressed = tmp_path / "image.tar.gz"
    compressed.write_bytes(gzip.compress(path.read_bytes()))

    for archive in (path, padded, compressed):
        assert inspect_archive(archive).archive_sha256 == _hex(archive.read_bytes())
    assert inspect_archive(path).image_id == inspect_archive(padded).image_id


@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_honest_multi_layer_images_pass_in_both_layouts(tmp_path, layout):
    config = images.image_config([BASE, APP])
    path = tmp_path / "image.tar"
    image_id = images.docker_save(path, config, [BASE, APP], layout=layout)

    image = inspect_archive(path)

    assert image.image_id == image_id
    assert image.layers == 2
    assert image.size_bytes == len(BASE) + len(APP)


def test_gzip_layers_of_the_containerd_store_are_checked_uncompressed(tmp_path):
    # `docker save` from the containerd image store writes layers as stored: gzip blobs,
    # named after the compressed bytes; the config's diff_ids are of the tars.
    path = tmp_path / "image.tar"
    layers = [gzip.compress(BASE, mtime=0), gzip.compress(APP, mtime=0)]
    images.docker_save(path, images.image_config([BASE, APP]), layers, layout="oci")

    image = inspect_archive(path)

    assert image.size_bytes == len(BASE) + len(APP)


@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_a_config_of_another_image_with_other_layers_is_refused(tmp_path, layout):
    # Another team's image id (its config) over different layers: without this check the
    # engine could hold either under the one id, and one team would run the other's code.
    theirs = images.image_config([BASE, APP])
    path = tmp_path / "image.tar"
    images.docker_save(path, theirs, [BASE, EVIL], layout=layout)

    with pytest.raises(InvalidInput, match=r"^layer 2 of the image does not match its digest in"):
        inspect_archive(path)


def test_swapped_layers_are_refused(tmp_path):
    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([BASE, APP]), [BASE, APP], order=[1, 0])

    with pytest.raises(InvalidInput, match="layer 1 of the image does not match its digest"):
        inspect_archive(path)


def test_a_layer_replaced_under_its_own_name_is_refused(tmp_path):
    def swap_content(entries: dict[str, bytes]) -> None:
        entries[f"{_hex(APP)}/layer.tar"] = EVIL

    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([BASE, APP]), [BASE, APP], tamper=swap_content)

    with pytest.raises(InvalidInput, match="layer 2 of the image does not match its digest"):
        inspect_archive(path)


def test_an_oci_blob_that_does_not_hash_to_its_name_is_refused(tmp_path):
    def corrupt_blob(entries: dict[str, bytes]) -> None:
        entries[f"blobs/sha256/{_hex(APP)}"] = EVIL

    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([BASE, APP]), [BASE, APP], layout="oci",
                       tamper=corrupt_blob)

    with pytest.raises(InvalidInput, match=r"entry blobs/sha256/.* does not match its digest"):
        inspect_archive(path)


def test_a_layer_count_other_than_the_configs_is_refused(tmp_path):
    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([BASE]), [BASE, APP])

    with pytest.raises(InvalidInput, match="lists 2 layers but its config has digests for 1"):
        inspect_archive(path)


@pytest.mark.parametrize("rootfs", [None, {"type": "layers"}, {"diff_ids": "sha256:ab"}])
def test_a_config_without_layer_digests_is_refused(tmp_path, rootfs):
    config = json.loads(images.image_config([BASE]))
    config["rootfs"] = rootfs
    path = tmp_path / "image.tar"
    images.docker_save(path, json.dumps(config).encode(), [BASE])

    with pytest.raises(InvalidInput, match="lacks the digests of its layers"):
        inspect_archive(path)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        # A second gzip member after the first: the engines read both, the digest covers one.
        (gzip.compress(APP, mtime=0) + gzip.compress(EVIL, mtime=0), "does not match"),
        (gzip.compress(APP, mtime=0)[:-20], "does not match"),
        (b"\x28\xb5\x2f\xfd" + APP, "zstd-compressed, which the platform does not read"),
    ],
)
def test_layers_whose_content_cannot_be_verified_are_refused(tmp_path, stored, message):
    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([APP]), [stored], layout="oci")

    with pytest.raises(InvalidInput, match=f"layer 1 of the image .*{message}"):
        inspect_archive(path)


def test_a_gzip_layer_counts_uncompressed_against_the_size_cap(tmp_path):
    huge = images.layer({"/zeros": b"\0" * (8 * 1024 * 1024)})
    stored = gzip.compress(huge, mtime=0)
    path = tmp_path / "image.tar"
    images.docker_save(path, images.image_config([huge]), [stored], layout="oci")
    assert path.stat().st_size < 100_000

    with pytest.raises(InvalidInput, match="larger than the limit"):
        inspect_archive(path, max_bytes=1024 * 1024)
