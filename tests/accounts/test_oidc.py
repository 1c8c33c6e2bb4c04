"""OpenID Connect login, as far as it goes without a real identity provider (none can run here):
the configured provider's button is on the login and sign-up pages, and it sends the browser to
the provider's authorization endpoint, read from the provider's discovery document, which a
local HTTP server stands in for."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def discovery_server():
    """An HTTP server answering only the OpenID Connect discovery document."""

    class Discovery(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/realms/uni/.well-known/openid-configuration":
                self.send_error(404)
                return
            base = f"http://127.0.0.1:{self.server.server_port}/realms/uni"
            body = json.dumps({
                "issuer": base, "authorization_endpoint": f"{base}/auth",
                "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/userinfo",
                "jwks_uri": f"{base}/certs"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/realms/uni"
    server.shutdown()
    server.server_close()


def test_without_providers_the_login_page_offers_none():
    assert 'id="providers"' not in Client().get("/accounts/login/").content.decode()


def test_a_configured_provider_is_offered_and_leads_to_its_authorization_endpoint(
        settings, discovery_server):
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": [{
        "provider_id": "uni", "name": "University SSO", "client_id": "podium",
        "secret": "s3cret", "settings": {"server_url": discovery_server}}]}}
    client = Client()
    for page in ("/accounts/login/", "/accounts/signup/"):
        html = client.get(page).content.decode()
        assert 'href="/accounts/oidc/uni/login/?process=login">University SSO</a>' in html, page
    # Starting the login takes a POST (allauth's confirmation page), so no other site can.
    assert client.get("/accounts/oidc/uni/login/?process=login").status_code == 200
    response = client.post("/accounts/oidc/uni/login/?process=login")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{discovery_server}/auth"
    query = parse_qs(target.query)
    assert query["client_id"] == ["podium"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/accounts/oidc/uni/login/callback/"]
    assert query["state"] and query["code_challenge_method"] == ["S256"]
    assert "openid" in query["scope"][0].split()
