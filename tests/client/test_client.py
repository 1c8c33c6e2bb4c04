"""The Python ``Client`` as a notebook uses it, against a live server: pages followed to
the end through their ``next`` links, a bare list taken whole, errors as exceptions that carry
the server's message; and the package imports nothing of the server (Django, numpy, the
scorers) and depends on an HTTP client and a progress bar only."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import requires

import pytest

from challenges.models import Challenge
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_notebook_follows_pages_to_the_end(site):
    from podium_client import ApiError, Client

    for k in range(3):
        Challenge.objects.create(slug=f"more-{k}", title=f"More {k}")
    client = Client.login(site.url, site.token)
    slugs = [c["slug"] for c in client.paged("/api/v1/challenges/?page_size=2")]
    assert sorted(slugs) == ["cubes", "more-0", "more-1", "more-2"]
    assert sorted(c["slug"] for c in client.challenges()) == sorted(slugs)
    assert [p["id"] for p in client.phases("cubes")] == [str(site.phase.id)]
    assert client.phase(str(site.phase.id))["task_detail"]["labels"]["2"] == "small"
    with pytest.raises(ApiError) as refused:
        Client.login(site.url, "wrong")
    assert (refused.value.status, refused.value.message) == (401, "invalid token")
    outsider = Client(site.url, factories.token(factories.user("outsider")))
    with pytest.raises(ApiError) as not_joined:
        outsider.test_images(str(site.phase.id))
    assert not_joined.value.status == 403
    assert str(not_joined.value) == "join the challenge to download its test data (HTTP 403)"


def test_the_test_images_come_from_the_apis_test_data_list(site):
    from podium_client import Client

    client = Client(site.url, site.token)
    images = client.test_images(str(site.phase.id))
    listed = client.get(f"/api/v1/phases/{site.phase.id}/test-data/")
    assert images == listed["results"] and listed["count"] == 2
    task = site.phase.task
    assert [(i["case"], i["url"]) for i in images] == [
        (case, f"{site.url}/tasks/{task.id}/images/{case}.nii.gz") for case in task.case_names]
    data = (site.task_folder / "imagesTs" / images[0]["file_name"]).read_bytes()
    assert client.request("GET", images[0]["url"]).content == data


class _BareList(BaseHTTPRequestHandler):
    """A server whose list is a bare JSON array, as Podium's lists were before pages."""

    def do_GET(self):
        body = json.dumps([{"slug": "a"}, {"slug": "b"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_bare_list_is_taken_whole():
    from podium_client import Client

    server = ThreadingHTTPServer(("127.0.0.1", 0), _BareList)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(f"http://127.0.0.1:{server.server_port}/api/v1/", "token")
        assert [c["slug"] for c in client.challenges()] == ["a", "b"]
    finally:
        server.shutdown()


def test_the_client_imports_nothing_of_the_server(tmp_path):
    """In a fresh interpreter, away from the checkout, importing the client and its command
    loads no Django, DRF, numpy, Celery, scorers or Podium app."""
    probe = ("import json, sys, podium_client, podium_client.cli; "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = json.loads(subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path,
                                       capture_output=True, text=True, check=True).stdout)
    assert "podium_client" in loaded and "requests" in loaded and "tqdm" in loaded
    server_side = {"django", "rest_framework", "numpy", "scipy", "nibabel", "celery", "scorers",
                   "podium", "challenges", "evaluation", "leaderboard", "accounts", "core"}
    assert not server_side & set(loaded)
    needs = sorted(r.split(">")[0].split("<")[0].strip() for r in requires("podium-client"))
    assert needs == ["requests", "tqdm"]


def test_csv_output_keeps_formulas_from_running_in_a_spreadsheet():
    import io

    from podium_client import output

    out = io.StringIO()
    output.as_csv(["rank", "entrant", "score"],
                  [[1, '=HYPERLINK("http://evil","x")', -0.5], [2, "@team", None]], out)
    assert out.getvalue().splitlines() == [
        "rank,entrant,score", "1,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",-0.5",
        "2,'@team,"]
