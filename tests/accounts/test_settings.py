"""Email and OpenID Connect configured by environment variables, read by podium.settings in a
process of its own (as ``run.sh`` and production start it)."""

import json
import os
import stat
import subprocess
import sys

from tests.conftest import ROOT

SEND_ONE_MAIL = """
import json, django
django.setup()
from django.conf import settings
from django.core.mail import send_mail
send_mail("Hello", "A message from the settings test.", None, ["kim@example.org"])
print(json.dumps({"backend": settings.EMAIL_BACKEND,
                  "oidc": settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]}))
"""


def podium_process(tmp_path, **variables) -> dict:
    """What a process on podium.settings with ``variables`` reports, having sent one mail."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PODIUM_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="podium.settings", PODIUM_DATA_DIR=str(tmp_path / "data"),
               **variables)
    done = subprocess.run([sys.executable, "-c", SEND_ONE_MAIL], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_by_default_mail_goes_to_private_files_in_the_data_folder(tmp_path):
    report = podium_process(tmp_path)
    assert report["backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert report["oidc"] == []
    folder = tmp_path / "data" / "mail"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (message,) = folder.iterdir()
    assert stat.S_IMODE(message.stat().st_mode) == 0o600
    text = message.read_text()
    assert "To: kim@example.org" in text and "A message from the settings test." in text


def test_with_an_smtp_host_mail_goes_over_smtp(tmp_path, mailbox):
    report = podium_process(tmp_path, PODIUM_EMAIL_HOST="127.0.0.1",
                            PODIUM_EMAIL_PORT=str(mailbox.port),
                            PODIUM_DEFAULT_FROM_EMAIL="Challenge Team <team@example.org>")
    assert report["backend"] == "django.core.mail.backends.smtp.EmailBackend"
    message = mailbox.wait_for("kim@example.org")
    assert message["From"] == "Challenge Team <team@example.org>"
    assert not (tmp_path / "data" / "mail").exists()


def test_openid_connect_providers_come_from_one_variable(tmp_path):
    providers = [{"id": "uni", "name": "University SSO", "client_id": "podium",
                  "secret": "s3cret", "server_url": "https://idp.example.org/realms/uni"}]
    report = podium_process(tmp_path, PODIUM_OIDC_PROVIDERS=json.dumps(providers))
    assert report["oidc"] == [{
        "provider_id": "uni", "name": "University SSO", "client_id": "podium",
        "secret": "s3cret", "settings": {"server_url": "https://idp.example.org/realms/uni"}}]
