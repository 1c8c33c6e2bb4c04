"""Where the client keeps the server's URL and the token: ``$XDG_CONFIG_HOME/podium/
config.json`` (``~/.config/podium/config.json`` by default), readable by its owner only. The
environment overrides it: ``PODIUM_URL`` and ``PODIUM_TOKEN``. Unfinished uploads are
remembered next to it (``uploads.json``) so that ``podium submit`` resumes them."""

import json
import os
from pathlib import Path

from .errors import PodiumError


def folder() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "podium"


def config_path() -> Path:
    return folder() / "config.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PodiumError(f"cannot read {path}: {exc}; delete it and log in again") from None
    if not isinstance(data, dict):
        raise PodiumError(f"{path} is not a JSON object; delete it and log in again")
    return data


def _write(path: Path, data: dict) -> None:
    """Write ``data`` so that no other user can read it at any moment: the file is created
    0600 in a 0700 folder and replaces the old one in one rename."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(temporary, 0o600)  # in case the file was left over with looser permissions
    os.replace(temporary, path)


def save_login(url: str, token: str) -> Path:
    """Store the server and token; the path written."""
    path = config_path()
    _write(path, {**_read(path), "url": url, "token": token})
    return path


def credentials() -> tuple[str, str]:
    """The server URL and token: the environment's, else the config file's."""
    stored = _read(config_path())
    url = os.environ.get("PODIUM_URL") or stored.get("url")
    token = os.environ.get("PODIUM_TOKEN") or stored.get("token")
    if not url or not token:
        raise PodiumError("not logged in: run `podium login URL --token TOKEN` (or set "
                          "PODIUM_URL and PODIUM_TOKEN)")
    return url, token


class UploadRecords:
    """Uploads begun and not completed, by server, phase and file (path, size, modification
    time): a changed file starts a new upload rather than resuming the old one."""

    def __init__(self, path: Path | None = None):
        self.path = path or folder() / "uploads.json"

    @staticmethod
    def key(url: str, phase: str, file: Path) -> str:
        stat = file.stat()
        return f"{url}|{phase}|{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def get(self, key: str) -> str | None:
        return _read(self.path).get(key)

    def put(self, key: str, upload_id: str) -> None:
        _write(self.path, {**_read(self.path), key: upload_id})

    def forget(self, key: str) -> None:
        records = _read(self.path)
        if records.pop(key, None) is not None:
            _write(self.path, records)
