"""The OpenAPI schema at /api/schema/ describes every endpoint under /api/v1/, and
/api/docs/ shows it with Swagger UI from the vendored files, working in chromium under the
site's Content-Security-Policy."""

from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from selenium.webdriver.common.by import By

from challenges.models import Participation
from tests import factories
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "swagger-ui"


def api_routes() -> set[str]:
    """The routes under /api/v1/ as the schema writes them: /api/v1/phases/{phase_id}/."""
    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield route
    (api,) = [e for e in get_resolver().url_patterns if str(e.pattern) == "api/v1/"]
    return {"/" + route.replace("<uuid:", "{").replace("<str:", "{").replace("<int:", "{")
            .replace(">", "}") for route in walk(api.url_patterns, "api/v1/")}


def test_the_schema_is_valid_openapi_3_and_covers_every_endpoint():
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == api_routes()
    yaml_schema = yaml.safe_load(Client().get("/api/schema/").content)
    assert yaml_schema["paths"].keys() == schema["paths"].keys()


def test_the_schema_states_errors_pages_auth_and_conditional_reads():
    schema = Client().get("/api/schema/?format=json").json()
    components = schema["components"]
    assert components["schemas"]["Error"]["required"] == ["detail"]
    assert components["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": components["securitySchemes"]["tokenAuth"]["description"]}
    assert "cookieAuth" in components["securitySchemes"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            where = f"{method.upper()} {path}"
            assert {"401", "429"} <= set(answers), where
            assert answers["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
            for status, answer in answers.items():
                if status[0] in "45":
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}, (where, status)
    pages = components["schemas"]["PaginatedSubmissionList"]
    assert pages["required"] == ["count", "next", "previous", "results"]
    listing = schema["paths"]["/api/v1/phases/{phase_id}/submissions/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "page", "page_size", "state", "team", "created_after", "created_before", "ordering"}
    board = schema["paths"]["/api/v1/phases/{phase_id}/leaderboard/"]["get"]
    assert "ETag" in board["responses"]["200"]["headers"] and "304" in board["responses"]
    assert "If-None-Match" in {p["name"] for p in board["parameters"]}
    submit = schema["paths"]["/api/v1/phases/{phase_id}/submissions/"]["post"]
    assert list(submit["requestBody"]["content"]) == ["multipart/form-data"]
    join = schema["paths"]["/api/v1/challenges/{key}/join/"]["post"]
    assert list(join["requestBody"]["content"]) == ["application/json"]


def test_the_docs_page_loads_only_vendored_files_with_their_licence():
    response = Client().get("/api/docs/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "img-src 'self' data:;" in policy
    body = response.content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in body
    assert "/static/vendor/swagger-ui/swagger-ui.css" in body
    assert 'data-schema-url="/api/schema/"' in body
    assert "https://" not in body and "//cdn" not in body
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert finders.find(f"vendor/swagger-ui/{name}"), name
    assert "swagger-ui-dist@5.36.0" in (VENDOR / "README.md").read_text()
    assert "Apache License" in (VENDOR / "LICENSE").read_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_render_and_try_a_request_with_the_session_in_chromium(live_server, world):
    """Logged in, "Try it out" on join sends the session and the page's CSRF token: 201."""
    from tests.integration.browser import chromium
    from tests.security.test_headers import log_in

    factories.user("docs-visitor")
    driver = chromium()
    try:
        log_in(driver, live_server.url, "/accounts/login/", "docs-visitor")
        driver.get(f"{live_server.url}/api/docs/")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".opblock"), timeout=30,
                 what="Swagger UI to list the operations")
        shown = {e.text.replace("\u200b", "")
                 for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert set(schema_paths()) <= shown

        join = driver.find_element(By.ID, "operations-challenges-challenges_join_create")
        join.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        join.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
        join.find_element(By.CSS_SELECTOR, "input[placeholder='key']").send_keys(
            world.challenge.slug)
        join.find_element(By.CSS_SELECTOR, ".execute").click()
        status = wait_for(lambda: join.find_elements(
            By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"), timeout=20,
            what="the request's answer")
        assert status[0].text.strip() == "201"
        assert Participation.objects.filter(user__username="docs-visitor").exists()

        errors = [entry["message"] for entry in driver.get_log("browser")
                  if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]]
        assert errors == []  # no policy violation, no script error
    finally:
        driver.quit()


def schema_paths() -> list[str]:
    return list(Client().get("/api/schema/?format=json").json()["paths"])
