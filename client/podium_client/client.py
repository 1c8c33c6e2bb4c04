"""The REST API as Python calls: :class:`Client` (docs/api.md describes every answer)."""

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import requests

from . import config, transfer
from .errors import ApiError, PodiumError, TimedOut

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)

# A 429 that says when to come back within this many seconds is waited for, then retried.
RETRY_AFTER_LIMIT_S = 60
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def _url(base: str) -> str:
    """The server's root URL, whether given with a trailing slash or the API's prefix."""
    base = base.strip().rstrip("/")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]
    if not base.startswith(("http://", "https://")):
        raise PodiumError(f"'{base}' is not a server URL; give one like https://podium.example")
    return base


def _unreachable(url: str, exc: Exception) -> PodiumError:
    """A network failure as one line: what could not be reached, and the system's reason."""
    if isinstance(exc, requests.Timeout):
        return PodiumError(f"{url} did not answer in time; try again")
    found = _ERRNO.search(str(exc))
    reason = found.group(1).strip() if found else type(exc).__name__
    return PodiumError(f"cannot reach {url}: {reason}")


def error_message(response: requests.Response) -> str:
    """The server's ``detail`` (core/api.py's error body), else the status's reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    if isinstance(body, dict) and body:  # a field → messages body (DRF's validation shape)
        return "; ".join(f"{field}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                         for field, v in body.items())
    return response.reason or "the server gave no reason"


class Client:
    """A Podium server, reached with an API token (``Authorization: Token <key>``).

    >>> podium = Client("https://podium.example", token="…")
    >>> [c["slug"] for c in podium.challenges()]
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60):
        self.url = _url(url)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "podium-client/0.1"
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    @classmethod
    def from_config(cls) -> "Client":
        """The server and token of ``podium login`` (or ``PODIUM_URL``/``PODIUM_TOKEN``)."""
        url, token = config.credentials()
        return cls(url, token)

    @classmethod
    def login(cls, url: str, token: str, *, save: bool = False) -> "Client":
        """A client whose token the server accepted; ``save`` stores both for the command."""
        client = cls(url, token)
        client.tokens()  # 401 for a wrong, expired or revoked token
        if save:
            config.save_login(client.url, token)
        return client

    # --- HTTP -----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
                **kwargs) -> requests.Response:
        """Send a request to ``path`` (under the server, or a whole URL such as a ``next``
        link); :class:`ApiError` with the server's message unless the status is in ``ok``."""
        url = path if path.startswith(("http://", "https://")) else self.url + path
        kwargs.setdefault("timeout", self.timeout)
        for _attempt in range(3):
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                raise _unreachable(self.url, exc) from None
            wait = response.headers.get("Retry-After", "")
            if (response.status_code == 429 and wait.isdigit()
                    and int(wait) <= RETRY_AFTER_LIMIT_S and "data" not in kwargs):
                time.sleep(int(wait))
                continue
            break
        if response.status_code not in ok:
            raise ApiError(response.status_code, error_message(response))
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: dict | None = None, *, ok=(200, 201)):
        return self.request("POST", path, json=body or {}, ok=ok).json()

    def paged(self, path: str) -> Iterator[dict]:
        """The items of a list, following its ``next`` links (``{count, next, previous,
        results}``); a list answered as a bare array is taken whole."""
        while path:
            body = self.get(path)
            if isinstance(body, list):
                yield from body
                return
            yield from body.get("results", [])
            path = body.get("next")

    # --- challenges and phases ------------------------------------------------------------

    def challenges(self) -> list[dict]:
        return list(self.paged("/api/v1/challenges/"))

    def challenge(self, key: str) -> dict:
        """A challenge by its slug or id."""
        return self.get(f"/api/v1/challenges/{quote(key, safe='')}/")

    def phases(self, challenge: str) -> list[dict]:
        return self.challenge(challenge)["phases"]

    def phase(self, phase_id: str) -> dict:
        return self.get(f"/api/v1/phases/{quote(phase_id, safe='')}/")

    def join(self, challenge: str, *, accept_terms: bool = True) -> dict:
        """Join ``challenge`` (accepting its terms): the participation, ``status``
        ``accepted`` or ``pending`` an organizer's approval."""
        return self.post(f"/api/v1/challenges/{quote(challenge, safe='')}/join/",
                         {"accept_terms": accept_terms})

    # --- test data ------------------------------------------------------------------------

    def test_images(self, phase_id: str) -> list[dict]:
        """The phase's test images: ``{"case", "file_name", "size", "url"}`` each (never
        labels), every page of ``/api/v1/phases/{id}/test-data/``. Each ``url`` takes the same
        token and a byte range; on S3 it redirects to a signed URL, which gets no token."""
        return list(self.paged(f"/api/v1/phases/{quote(phase_id, safe='')}/test-data/"))

    def download(self, phase_id: str, folder: Path, *, progress: Progress | None = None
                 ) -> list[transfer.Downloaded]:
        """Download the phase's test images into ``folder``: complete files are skipped, a
        partial one is resumed where it stopped (HTTP Range) or fetched again whole."""
        return transfer.download_all(self, self.test_images(phase_id), Path(folder),
                                     progress=progress)

    # --- submissions ----------------------------------------------------------------------

    def submit(self, phase_id: str, file: Path, *, description: str = "",
               progress: Progress | None = None, records: config.UploadRecords | None = None,
               on_resume: Callable[[int, int], None] | None = None) -> dict:
        """Upload ``file`` in chunks and submit it to the phase: ``{"id", "state"}``. An
        upload of the same file begun earlier (this process or another, ``records``) goes on
        from the server's offset."""
        return transfer.upload(self, phase_id, Path(file), description=description,
                               progress=progress, records=records or config.UploadRecords(),
                               on_resume=on_resume)

    def submission(self, submission_id: str) -> dict:
        return self.get(f"/api/v1/submissions/{quote(submission_id, safe='')}/")

    def submissions(self, phase_id: str) -> list[dict]:
        return list(self.paged(f"/api/v1/phases/{quote(phase_id, safe='')}/submissions/"))

    def wait(self, submission_id: str, *, timeout: float | None = None, interval: float = 5,
             on_poll: Callable[[dict], None] | None = None) -> dict:
        """Poll until the submission is no longer ``active``; the final payload. Raises
        :class:`TimedOut` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            payload = self.submission(submission_id)
            if on_poll:
                on_poll(payload)
            if not payload["active"]:
                return payload
            if deadline is not None and time.monotonic() + interval > deadline:
                raise TimedOut(f"submission {submission_id} is still {payload['state']} after "
                               f"{timeout:g} s")
            time.sleep(interval)

    def leaderboard(self, phase_id: str) -> dict:
        return self.get(f"/api/v1/phases/{quote(phase_id, safe='')}/leaderboard/")

    # --- tokens ---------------------------------------------------------------------------

    def tokens(self) -> list[dict]:
        return list(self.paged("/api/v1/tokens/"))

    def create_token(self, *, name: str = "", expires_in_days: int | None = None) -> dict:
        """A new token of the same user; its ``key`` is in this answer only."""
        return self.post("/api/v1/tokens/", {"name": name, "expires_in_days": expires_in_days})

    def revoke_token(self, token_id: int) -> None:
        self.request("POST", f"/api/v1/tokens/{int(token_id)}/revoke/", ok=(204,))
