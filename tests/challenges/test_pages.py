"""The challenge pages: every tab renders for anyone who may see the challenge and answers 404
to anyone who may not; the organizers' Markdown is rendered and sanitised; the Evaluation page
says the phases' configuration in words; the home page's cards; the timeline's dates."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from selenium.webdriver.common.by import By

from accounts.models import Profile
from challenges.markdown import render
from challenges.models import Challenge, GroundTruth, Participation, Phase, Task
from challenges.timeline import CLOSED, OPEN, UPCOMING, challenge_dates
from leaderboard.describe import describe_phase
from leaderboard.kinds import detection, segmentation
from tests import factories
from tests.conftest import wait_for
from tests.integration.browser import chromium

pytestmark = pytest.mark.django_db

PAGES = ["challenge", "challenge-rules", "challenge-data", "challenge-evaluation",
         "challenge-timeline", "challenge-organizers", "challenge-citation"]

# Each must come out with nothing that runs: no script, no handler, no javascript: URL.
HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="https://ok.example/a.png" onerror="alert(1)">',
    "<svg onload=alert(1)><circle/></svg>",
    "<iframe src=https://evil.example></iframe>",
    "<object data=https://evil.example/x.swf></object><embed src=https://evil.example/x>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="  javascript:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href="java\tscript:alert(1)">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    "[click](javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "![x](javascript:alert(1))",
    '<p style="background:url(javascript:alert(1))" onclick="alert(1)">text</p>',
    "<style>body { display: none }</style>",
    '<div onmouseover="alert(1)">hover</div>',
    '<form action="https://evil.example"><input name=p><button>go</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    "<details open ontoggle=alert(1)><summary>s</summary></details>",
    "<!-- <script>alert(1)</script> -->",
]
FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "svg", "math", "form",
                  "input", "button", "meta", "base", "link", "noscript", "div"}


class Elements(HTMLParser):
    """Every start tag of a fragment with its attributes."""

    def __init__(self):
        super().__init__()
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_keeps_nothing_that_runs(text):
    html = str(render(text))
    parser = Elements()
    parser.feed(html)
    for tag, attributes in parser.elements:
        assert tag not in FORBIDDEN_TAGS, (text, html)
        for name, value in attributes.items():
            assert not name.startswith("on") and name not in ("style", "class"), (text, html)
            if name in ("href", "src"):
                scheme = value.split(":", 1)[0].lower() if ":" in value else ""
                assert scheme in ("", "http", "https", "mailto"), (text, html)
    lowered = html.lower()
    assert "<script" not in lowered and "onerror=" not in lowered and "<style" not in lowered


def test_markdown_keeps_structure_links_and_https_images():
    html = render(
        "# Aims\n\nSome *emphasis*, **strong** and `code`.\n\n"
        "- one\n- two\n\n> quoted\n\n"
        "| Metric | Unit |\n|---|---|\n| HD95 | mm |\n\n"
        "```\nprint(1)\n```\n\n"
        "[paper](https://doi.org/10.1038/s41467-022-30695-9) [mail](mailto:team@example.org) "
        "[data](/challenges/x/data/)\n\n"
        "![logo](https://example.org/logo.png) ![insecure](http://example.org/a.png) "
        "![local](/static/a.png)"
    )
    for fragment in ["<h1>Aims</h1>", "<em>emphasis</em>", "<strong>strong</strong>",
                     "<code>code</code>", "<li>one</li>", "<blockquote>", "<table>",
                     "<th>Metric</th>", "<td>mm</td>", "<pre><code>print(1)",
                     '<a href="https://doi.org/10.1038/s41467-022-30695-9" '
                     'rel="noopener noreferrer nofollow">paper</a>',
                     '<a href="mailto:team@example.org" rel="noopener noreferrer nofollow">',
                     '<a href="/challenges/x/data/" rel="noopener noreferrer nofollow">',
                     '<img src="https://example.org/logo.png" alt="logo">']:
        assert fragment in html, fragment
    # Images load from https only: an insecure or same-site image loses its address.
    assert "http://example.org/a.png" not in html and "/static/a.png" not in html
    assert render("") == ""


def _page(client, name, challenge):
    return client.get(reverse(name, args=[challenge.slug]))


def test_every_page_renders_for_anonymous_with_the_tabs():
    phase = factories.phase(slug="pages")
    challenge = phase.challenge
    client = Client()
    for name in PAGES:
        response = _page(client, name, challenge)
        assert response.status_code == 200, name
        body = response.content.decode()
        for other in PAGES:
            assert f'href="{reverse(other, args=[challenge.slug])}"' in body
        assert 'aria-current="page"' in body
        assert f'href="{reverse("challenge-leaderboard", args=[challenge.slug])}"' in body


def test_an_unpublished_challenge_answers_404_except_to_its_organizers():
    phase = factories.phase(slug="hidden")
    challenge = phase.challenge
    challenge.is_published = False
    challenge.save()
    participant = factories.participant(phase)
    organizer = factories.user()
    challenge.organizers.add(organizer)
    anonymous, member, owner = Client(), Client(), Client()
    member.force_login(participant)
    owner.force_login(organizer)
    for name in PAGES:
        assert _page(anonymous, name, challenge).status_code == 404, name
        assert _page(member, name, challenge).status_code == 404, name
        assert _page(owner, name, challenge).status_code == 200, name
    assert "hidden" not in Client().get(reverse("home")).content.decode()


def test_each_page_shows_its_markdown_rendered_and_sanitised():
    phase = factories.phase(slug="md")
    challenge = phase.challenge
    fields = {"overview": ("challenge", "Overview"), "rules": ("challenge-rules", "Rules"),
              "data_description": ("challenge-data", "Data"),
              "timeline": ("challenge-timeline", "Timeline"),
              "citation": ("challenge-citation", "Cite")}
    for field, (_, word) in fields.items():
        setattr(challenge, field, f"## {word} heading\n\nSee [the site](https://example.org).\n\n"
                                  "<script>alert('x')</script><img src=x onerror=alert(1)>")
    challenge.save()
    for field, (name, word) in fields.items():
        body = _page(Client(), name, challenge).content.decode()
        assert f"<h2>{word} heading</h2>" in body, field
        assert ('<a href="https://example.org" rel="noopener noreferrer nofollow">the site</a>'
                in body), field
        assert "alert(" not in body and "onerror" not in body, field


def test_the_description_is_text_with_clickable_links_and_no_html():
    phase = factories.phase(slug="desc")
    challenge = phase.challenge
    challenge.description = "Liver tumours, see https://example.org <b>now</b>"
    challenge.save()
    body = _page(Client(), "challenge", challenge).content.decode()
    assert '<a href="https://example.org" rel="nofollow">https://example.org</a>' in body
    assert "&lt;b&gt;now&lt;/b&gt;" in body


def liver_phase(**fields) -> Phase:
    phase = factories.phase(slug="liver", **fields)
    task = phase.task
    task.labels = {"0": "background", "1": "liver", "2": "tumour"}
    task.save()
    return Phase.objects.get(pk=phase.pk)


def sentences(phase) -> dict[str, list[str]]:
    return {section.title: section.sentences for section in describe_phase(phase)}


def test_the_evaluation_page_says_a_segmentation_phase_in_words():
    phase = liver_phase(nsd_tolerance_mm={"1": 2.0}, default_tolerance_mm=1.0,
                        primary_metric="dice", ranking_method="aggregate-mean",
                        submission_limit=5, limit_period="day", count_failed=False,
                        bootstrap_samples=500, ranking_seed=42, leaderboard_selection="best",
                        worst_distance_mm=300.0)
    text = sentences(phase)
    assert text["Submissions"] == ["Submissions: predictions archive; the test set has 2 cases.",
                                   "An archive must hold a prediction for every test case."]
    assert text["Metrics"][0] == "Dice, larger is better. 2|P ∩ R| / (|P| + |R|) over voxels."
    assert ("HD95 (mm), smaller is better. The larger of the two directed 95th percentiles of "
            "surface distances (mm).") in text["Metrics"]
    assert text["Surfaces and tolerances"] == [
        "Surfaces are measured as surfels (DeepMind surface-distance, as MSD).",
        "NSD with tolerance 2 mm for liver (label 1).",
        "NSD with tolerance 1 mm for tumour (label 2).",
    ]
    assert text["Ranking"] == [
        "The leaderboard ranks by Dice: mean of each algorithm's values, then ranked (larger is "
        "better; ties: min; missing values count as 0).",
        "Ranking method: Mean per algorithm, then ranked.",
        "Each entrant (a team, or a participant without one) is ranked by its best submission "
        "by Dice.",
        "Rank uncertainty: 500 bootstrap resamples of the test cases (seed 42).",
    ]
    assert text["Missing values"] == [segmentation.missing_value_rule(phase)]
    assert "the phase's worst distance, 300 mm for HD, HD95 and ASSD" in text["Missing values"][0]
    assert text["Limits"] == [
        "At most 5 submissions in any 24 hours; a team shares one limit.",
        "Failed and cancelled submissions do not count against the limit.",
    ]
    body = _page(Client(), "challenge-evaluation", phase.challenge).content.decode()
    for section in text.values():
        for sentence in section:
            assert escape(sentence) in body


def test_the_evaluation_page_follows_the_phase_configuration():
    phase = liver_phase(metrics=["dice", "hd95"], primary_metric="hd95",
                        ranking_method="test-then-rank", ranking_adjust="holm",
                        ranking_alpha=0.01, bootstrap_samples=0, allow_partial=True,
                        submission_limit=1, limit_period="phase", count_failed=True,
                        surface="voxel")
    text = sentences(phase)
    assert text["Metrics"] == [
        "Dice, larger is better. 2|P ∩ R| / (|P| + |R|) over voxels.",
        "HD95 (mm), smaller is better. The larger of the two directed 95th percentiles of "
        "surface distances (mm).",
        "Each metric is computed per case and per label.",
    ]
    # No NSD computed: no tolerance to state.
    assert text["Surfaces and tolerances"] == [
        "Surfaces are measured as voxel borders (MONAI, MetricsReloaded)."]
    assert text["Ranking"][0] == (
        "The leaderboard ranks by HD95: ranked by the share of other algorithms beaten in "
        "one-sided Wilcoxon signed-rank tests at α = 0.01, Holm-adjusted (smaller is better; "
        "ties: min; missing values count as worse than every observed value).")
    assert text["Ranking"][-1] == "The ranking is not bootstrapped."
    assert text["Submissions"][1] == ("An archive may leave cases out; a missing case counts "
                                      "as the worst value.")
    assert text["Limits"] == ["At most 1 submission in the phase; a team shares one limit.",
                              "Failed and cancelled submissions count against the limit."]
    phase.submission_limit = None
    phase.submission_kind = Phase.ALGORITHM
    assert sentences(phase)["Limits"] == ["There is no limit on the number of submissions."]
    assert sentences(phase)["Submissions"][1] == (
        "Each algorithm container runs with 8192 MB of memory, 4 CPUs and a time limit of "
        "3600 s.")


def test_the_evaluation_page_says_a_detection_phase_in_words():
    challenge = Challenge.objects.create(slug="boxes", title="Boxes")
    task = Task.objects.create(challenge=challenge, key="Task10_Boxes", name="Boxes",
                               kind=Task.DETECTION, labels={"0": "nodule", "1": "mass"},
                               cases=[{"name": f"img{i}", "image": "", "geometry": {}}
                                      for i in range(3)])
    phase = Phase.objects.create(task=task, primary_metric="mAP", iou_threshold=0.5,
                                 bootstrap_samples=100, ranking_seed=7)
    text = sentences(phase)
    assert "Surfaces and tolerances" not in text
    assert text["Submissions"][0].startswith("Submissions: one file of predicted boxes for the "
                                             "whole test set of 3 images — a CSV")
    assert "archive must hold a prediction" not in " ".join(text["Submissions"])
    assert "mAP, larger is better. PASCAL VOC mean average precision at the phase's IoU " \
           "threshold." in text["Metrics"]
    assert "A predicted box matches a ground-truth box of its class at IoU ≥ 0.5." \
        in text["Metrics"]
    assert "Classes: mass, nodule." in text["Metrics"]
    assert text["Ranking"][0] == (
        "The leaderboard ranks by mAP: one value over all 3 test images, not a mean of "
        "per-image values (larger is better; ties: min); the rank uncertainty comes from a "
        "bootstrap over the test images.")
    assert text["Ranking"][-1] == "Rank uncertainty: 100 bootstrap resamples of the test " \
                                  "images (seed 7)."
    assert text["Missing values"] == [detection.missing_value_rule(phase)]
    body = _page(Client(), "challenge-evaluation", challenge).content.decode()
    assert escape(text["Ranking"][0]) in body


def test_organizers_by_name_never_by_email():
    phase = factories.phase(slug="team")
    named = factories.user("jdoe")
    named.email = "jane@hospital.example"
    named.save()
    Profile.objects.create(user=named, full_name="Jane Doe")  # as sign-up stores it
    bare = factories.user("organizer2")
    bare.email = "secret@hospital.example"
    bare.save()
    phase.challenge.organizers.add(named, bare)
    body = _page(Client(), "challenge-organizers", phase.challenge).content.decode()
    assert "<li>Jane Doe</li>" in body and "<li>organizer2</li>" in body
    assert "@hospital.example" not in body


def test_citation_names_each_dataset_and_the_ground_truth_version():
    phase = factories.phase(slug="cite")
    task = phase.task
    task.name, task.release, task.licence = "Liver", "1.0 04/05/2018", "CC-BY-SA 4.0"
    task.reference = "King's College London, https://doi.org/10.1038/s41467-022-30695-9"
    task.save()
    second = GroundTruth.objects.create(task=task, version=2, content_sha256="ab" * 32,
                                        files={})
    phase.active_ground_truth = second
    phase.save()
    body = _page(Client(), "challenge-citation", phase.challenge).content.decode()
    for text in ["1.0 04/05/2018", "CC-BY-SA 4.0", "King&#x27;s College London",
                 '<a href="https://doi.org/10.1038/s41467-022-30695-9" rel="nofollow">',
                 "Test: version 2"]:
        assert text in body, text
    # Not even a prefix of the labels' hash: for a small label set it is a guess oracle.
    assert "ab" * 6 not in body


def test_home_cards_say_open_upcoming_closed_with_tasks_and_participants():
    now = timezone.now()
    day = timedelta(days=1)
    windows = {"open-one": (now - day, now + 3 * day), "later": (now + 2 * day, now + 9 * day),
               "past": (now - 9 * day, now - day)}
    for slug, (opens, closes) in windows.items():
        phase = factories.phase(slug=slug, opens_at=opens, closes_at=closes)
        Challenge.objects.filter(pk=phase.challenge.pk).update(title=f"Title {slug}",
                                                               description=f"About {slug}")
    open_phase = Phase.objects.get(task__challenge__slug="open-one")
    factories.participant(open_phase)
    factories.participant(open_phase)
    factories.participant(open_phase, status=Participation.PENDING)
    body = Client().get(reverse("home")).content.decode()
    cards = {slug: body[body.index(f'id="card-{slug}"'):] for slug in windows}
    cards = {slug: text[:text.index("</article>")] for slug, text in cards.items()}
    expected = {"open-one": OPEN, "later": UPCOMING, "past": CLOSED}
    for slug, opening in expected.items():
        card = cards[slug]
        assert f'<span class="badge opening-{opening}">{opening}</span>' in card
        assert f"Title {slug}" in card and f"About {slug}" in card
        assert "<dt>Tasks</dt><dd>Test</dd>" in card
        assert 'datetime="' in card and " UTC" in card  # one format, with the timezone
    assert '<dd class="participants">2</dd>' in cards["open-one"]  # the pending one waits
    assert '<dd class="participants">0</dd>' in cards["past"]
    assert 'class="countdown"' in cards["open-one"] and 'class="countdown"' in cards["later"]
    assert 'class="countdown"' not in cards["past"]


def test_challenge_dates_from_the_phases():
    now = timezone.now()
    day = timedelta(days=1)

    def phase(opens, closes):
        return Phase(opens_at=opens, closes_at=closes)

    assert challenge_dates([], now).opening == UPCOMING
    assert challenge_dates([phase(None, None)], now).opening == OPEN
    dates = challenge_dates([phase(now - day, now + day), phase(now + day, now + 5 * day),
                             phase(now - 5 * day, now - 2 * day)], now)
    assert dates.opening == OPEN
    assert (dates.opens_at, dates.closes_at) == (now - 5 * day, now + 5 * day)
    assert dates.next_deadline == now + day
    dates = challenge_dates([phase(now + day, now + 2 * day), phase(now - 3 * day, now - day)],
                            now)
    assert (dates.opening, dates.next_deadline) == (UPCOMING, None)
    assert challenge_dates([phase(now - 3 * day, now - day)], now).opening == CLOSED
    # A phase without a closing date: the challenge has none either.
    assert challenge_dates([phase(now - day, None), phase(now - day, now)], now).closes_at is None


def test_the_timeline_counts_down_to_the_next_deadline():
    closes = timezone.now() + timedelta(days=2, hours=3)
    phase = factories.phase(slug="clock", opens_at=timezone.now() - timedelta(days=1),
                            closes_at=closes)
    body = _page(Client(), "challenge-timeline", phase.challenge).content.decode()
    assert "Submissions: <strong" in body and ">open</strong>" in body
    assert f'<span class="countdown" data-until="{closes.isoformat()}">in 2 days' in body


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_in_chromium(live_server):
    """Hostile Markdown runs nothing in a real browser, the tabs lead to the Evaluation page,
    and the deadline counts down by itself."""
    closes = timezone.now() + timedelta(seconds=50)  # counted down in seconds
    phase = factories.phase(slug="chrome", opens_at=timezone.now() - timedelta(days=1),
                            closes_at=closes)
    Challenge.objects.filter(pk=phase.challenge.pk).update(
        overview="# Welcome\n\n<img src=x onerror=\"document.title='pwned'\">"
                 "<svg onload=\"document.title='pwned'\"></svg>"
                 "[x](javascript:document.title='pwned')")
    driver = chromium()
    try:
        driver.get(f"{live_server.url}/challenges/chrome/")
        assert driver.find_element(By.CSS_SELECTOR, "section.prose h1").text == "Welcome"
        for link in driver.find_elements(By.CSS_SELECTOR, "section.prose a"):
            link.click()
        assert "pwned" not in driver.title
        driver.find_element(By.LINK_TEXT, "Evaluation").click()
        wait_for(lambda: driver.current_url.endswith("/challenges/chrome/evaluation/"),
                 timeout=10, what="the Evaluation page")
        current = driver.find_element(By.CSS_SELECTOR, 'nav.tabs a[aria-current="page"]')
        assert current.text == "Evaluation"
        countdown = driver.find_element(By.CSS_SELECTOR, ".phase-description .countdown")
        first = countdown.text
        assert first.startswith("in ") and first.endswith(" s")
        wait_for(lambda: countdown.text != first, timeout=10, interval=0.2,
                 what="the countdown to tick")
    finally:
        driver.quit()


def test_the_console_edits_the_page_fields():
    phase = factories.phase(slug="console")
    admin = factories.user(staff=True)
    client = Client()
    client.force_login(admin)
    url = reverse("admin:challenges_challenge_change", args=[phase.challenge.pk])
    body = client.get(url).content.decode()
    for field in ("overview", "rules", "data_description", "timeline", "citation", "terms"):
        assert f'name="{field}"' in body, field


def test_the_data_tab_links_each_tasks_test_data_for_those_who_may_have_it():
    phase = factories.phase(slug="data-links")
    url = reverse("challenge-data", args=["data-links"])
    link = f'<a class="test-data" href="/tasks/{phase.task_id}/data/">Test data</a>'
    assert link not in Client().get(url).content.decode()  # a visitor
    pending = factories.participant(phase, status=Participation.PENDING)
    client = Client()
    client.force_login(pending)
    assert link not in client.get(url).content.decode()
    client.force_login(factories.participant(phase))
    assert link in client.get(url).content.decode()
    organizer = factories.user("olga-data", staff=True)
    phase.challenge.organizers.add(organizer)
    client.force_login(organizer)
    assert link in client.get(url).content.decode()
