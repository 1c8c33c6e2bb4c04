"""A real SMTP server process for the account tests, and Django's SMTP backend pointed at it."""

import email
import email.policy
import re
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

LINK = re.compile(r"https?://[^\s/]+(/accounts/[^\s]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """The messages the SMTP server process received, oldest first."""

    def __init__(self, folder: Path, port: int):
        self.folder = folder
        self.port = port

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in sorted(self.folder.glob("*.eml"))]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if address.lower() in m["To"].lower()]

    def wait_for(self, address: str, count: int = 1) -> EmailMessage:
        """The ``count``-th message to ``address`` once it has arrived."""
        return wait_for(lambda: len(self.to(address)) >= count and self.to(address)[count - 1],
                        timeout=30, what=f"message {count} to {address}")

    @staticmethod
    def link(message: EmailMessage) -> str:
        """The path of the one Podium link in ``message``'s text."""
        (path,) = set(LINK.findall(message.get_body(("plain",)).get_content()))
        return path


def _answers(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False


@pytest.fixture
def mailbox(tmp_path, settings):
    """A fresh SMTP server process on a free port, and Django sending to it."""
    folder = tmp_path / "smtp"
    folder.mkdir()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.accounts.smtp_sink", str(port),
                               str(folder)], cwd=ROOT)
    try:
        wait_for(lambda: server.poll() is not None or _answers(port), timeout=30,
                 what="the SMTP server")
        assert server.poll() is None, "the SMTP server exited"
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield Mailbox(folder, port)
    finally:
        server.terminate()
        server.wait(timeout=10)
