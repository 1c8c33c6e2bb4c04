"""Accessibility checks and screenshots in Debian's chromium: axe-core (vendored, tests only)
injected into the page under test, and full-page screenshots kept as test artifacts."""

import base64
import os
import re
from pathlib import Path

from selenium import webdriver

from tests.conftest import ROOT

AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.1 levels A and AA (axe's tags); best-practice rules are not part of the bar.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}

DESKTOP = {"width": 1280, "height": 900, "mobile": False, "deviceScaleFactor": 1}
PHONE = {"width": 390, "height": 844, "mobile": True, "deviceScaleFactor": 2}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(result => done(result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))))
  .catch(error => done({error: String(error)}));
"""


def violations(driver: webdriver.Chrome) -> list[dict]:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on the current page:
    ``{"id", "impact", "help", "nodes"}`` each, ``nodes`` naming the elements and the fix."""
    driver.execute_script(AXE.read_text())
    driver.set_script_timeout(60)
    found = driver.execute_async_script(_RUN, WCAG_21_AA)
    assert not isinstance(found, dict), f"axe-core failed: {found['error']}"
    return [v for v in found if v["impact"] in BLOCKING]


def describe(found: list[dict]) -> str:
    """One line per violation and element, for an assertion message."""
    return "\n".join(f"  [{v['impact']}] {v['id']} ({v['help']}): {node}"
                     for v in found for node in v["nodes"])


def emulate(driver: webdriver.Chrome, size: str) -> None:
    """Lay pages out as on ``size`` ("desktop" or "phone": 390 × 844 CSS pixels, touch
    viewport, so the page's viewport meta tag applies)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", SIZES[size])


def artifacts_dir() -> Path:
    """Where screenshots are kept: ``$PODIUM_TEST_ARTIFACTS``, or ``test-artifacts/`` at the
    repository root (ignored by git)."""
    folder = Path(os.environ.get("PODIUM_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver: webdriver.Chrome, folder: str, name: str) -> Path:
    """A PNG of the whole page (not only the visible part), as ``<artifacts>/<folder>/<name>``."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"],
                 "scale": 1}})
    path = artifacts_dir() / folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
