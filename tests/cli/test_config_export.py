"""The phase configuration download: what it holds, what it never holds, who may fetch it,
and the CLIs' one-line refusals of configurations and options that do not fit."""

import json

import numpy as np
import pytest
from django.test import Client

from challenges.config_export import phase_config
from evaluation.results import aggregate
from evaluation.services.demo_data import write_nifti
from leaderboard.kinds.segmentation import ranking_config
from leaderboard.stats.cli import main as rank_main
from scorers.cli import main as score_main
from scorers.cli_config import SegmentationPhase, phase_aggregate
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def phase():
    phase = factories.phase(cases=("case_a", "case_b"), primary_metric="hd95",
                            nsd_tolerance_mm={"1": 2.5}, worst_distance_mm=80.0,
                            ranking_method="rank-then-aggregate", ranking_ties="average")
    phase.task.labels = {"0": "background", "1": "liver", "2": "tumour"}
    phase.task.images = {"case_a": "private/images/secret-a.nii.gz"}
    phase.task.save()
    return phase


def fetch(phase, client=None):
    return (client or Client()).get(f"/phases/{phase.id}/config.json")


def test_the_config_holds_the_scoring_worst_values_and_ranking(phase):
    response = fetch(phase)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Task01_Test-Test-config.json"'
    config = json.loads(response.content)
    assert config["task"]["labels"] == {"0": "background", "1": "liver", "2": "tumour"}
    assert config["scoring"] == phase.metric_config()
    assert config["scoring"]["nsd_tolerance_mm"] == {"1": 2.5, "2": 1.0}
    assert config["worst_values"]["dice"] == {"rule": "zero", "value": 0.0, "missing_case": 0.0}
    assert config["worst_values"]["hd"] == {"rule": "distance", "value": 80.0,
                                            "missing_case": None}
    assert config["cases"] == [{"name": c, "shape": [8, 8, 4], "spacing_mm": [1.0, 1.0, 2.0]}
                               for c in ("case_a", "case_b")]
    expected = ranking_config(phase)  # what the leaderboard ranks with
    ranking = config["ranking"]
    assert (ranking["method"], ranking["larger_better"], ranking["na"], ranking["ties"],
            ranking["adjust"], ranking["alpha"]) == (
        expected.method, expected.larger_better, expected.na, expected.ties, expected.adjust,
        expected.alpha)
    assert ranking["metric"] == "hd95"
    assert (ranking["bootstrap_samples"], ranking["seed"]) == (1000, phase.ranking_seed)


def test_the_config_never_holds_ground_truth_or_storage_paths(phase):
    body = fetch(phase).content.decode()
    for hidden in ("groundtruth/", "secret-a", "private/", "content_sha256", '"files"'):
        assert hidden not in body
    # The version scored is named in its provenance block, never its labels' digest (a guess
    # oracle for small label sets: docs/leaderboard.md).
    config = json.loads(body)
    assert config.pop("ground_truth")["ground_truth_version"] == 1
    assert "0" * 64 not in body


def test_whoever_may_see_the_phase_may_fetch_it(phase):
    phase.is_public = False  # the leaderboard is hidden; the phase's rules are not
    phase.save()
    assert fetch(phase).status_code == 200
    challenge = phase.task.challenge
    challenge.is_published = False
    challenge.save()
    assert fetch(phase).status_code == 404
    organizer = factories.user()
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    assert fetch(phase, client).status_code == 200


def test_the_evaluation_page_links_to_it(phase):
    page = Client().get(f"/challenges/{phase.task.challenge.slug}/evaluation/")
    assert f'href="/phases/{phase.id}/config.json"' in page.content.decode()


def test_a_detection_phase_exports_its_matching_settings(phase):
    phase.task.kind = "detection"
    phase.task.labels = {"0": "nodule"}
    phase.task.save()
    phase.primary_metric, phase.iou_threshold, phase.voc2007 = "AP50", 0.3, True
    config = phase_config(phase)
    assert config["scoring"] == {"kind": "detection", "iou_threshold": 0.3, "voc2007": True,
                                 "plus_one": True}
    assert config["ranking"]["metric"] == "AP50" and "cases" not in config


@pytest.fixture
def config_file(phase, tmp_path):
    path = tmp_path / "phase.json"
    path.write_text(json.dumps(phase_config(phase)))
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_score_refuses_options_the_config_sets(config_file, tmp_path, capsys):
    status = score_main(["segmentation", "--pred", str(tmp_path), "--ref", str(tmp_path),
                         "--config", str(config_file), "--labels", "1",
                         "--out", str(tmp_path / "out.json")])
    assert status == 1
    assert "leave out --labels" in one_line_error(capsys)


def test_score_refuses_missing_cases_where_the_phase_does(config_file, tmp_path, capsys):
    for folder in ("ref", "pred"):
        (tmp_path / folder).mkdir()
    for case in ("case_a", "case_b"):
        write_nifti(tmp_path / "ref" / f"{case}.nii.gz", np.zeros((8, 8, 4), np.uint8),
                    (1.0, 1.0, 2.0))
    write_nifti(tmp_path / "pred" / "case_a.nii.gz", np.zeros((8, 8, 4), np.uint8),
                (1.0, 1.0, 2.0))
    status = score_main(["segmentation", "--pred", str(tmp_path / "pred"), "--ref",
                         str(tmp_path / "ref"), "--config", str(config_file),
                         "--out", str(tmp_path / "out.json")])
    assert status == 1
    assert "1 test cases have no prediction: case_b (the phase refuses partial submissions)" \
        in one_line_error(capsys)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ('{"format": "something else"}', "not a phase configuration"),
    ('{"format": "podium-phase-config", "version": 1, "task": {"kind": "segmentation"}}',
     "incomplete or malformed"),
])
def test_bad_configs_are_refused_in_one_line(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    (tmp_path / "table.csv").write_text("task,case,algorithm,value\nT,c,a,1\n")
    assert rank_main(["rank", "--config", str(bad), "--input", str(tmp_path / "table.csv"),
                      "--out", str(tmp_path / "r.csv")]) == 2
    assert message in one_line_error(capsys)
    assert score_main(["segmentation", "--pred", str(tmp_path), "--ref", str(tmp_path),
                       "--config", str(bad), "--out", str(tmp_path / "o.json")]) == 1
    assert message in one_line_error(capsys)


def test_rank_refuses_a_detection_config_and_needs_a_method(phase, tmp_path, capsys):
    (tmp_path / "table.csv").write_text("task,case,algorithm,value\nT,c,a,1\n")
    phase.task.kind = "detection"
    (tmp_path / "det.json").write_text(json.dumps(phase_config(phase)))
    args = ["rank", "--input", str(tmp_path / "table.csv"), "--out", str(tmp_path / "r.csv")]
    assert rank_main([*args, "--config", str(tmp_path / "det.json")]) == 2
    assert "podium-rank ranks segmentation phases" in one_line_error(capsys)
    assert rank_main(args) == 2
    assert "give --method, or --config" in one_line_error(capsys)


def test_options_given_override_the_config(config_file, tmp_path):
    (tmp_path / "a.csv").write_text("task,case,algorithm,value\nT,c1,a,1\nT,c2,a,5\n")
    (tmp_path / "b.csv").write_text("task,case,algorithm,value\nT,c1,b,2\nT,c2,b,3\n")
    inputs = ["--input", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    # The config: hd95 (smaller is better), mean rank per case, ties averaged → a and b tie.
    assert rank_main(["rank", "--config", str(config_file), *inputs,
                      "--out", str(tmp_path / "phase.csv")]) == 0
    assert (tmp_path / "phase.csv").read_text().splitlines()[1:] == ["T,a,1.5,1.5",
                                                                     "T,b,1.5,1.5"]
    # --method overrides: aggregate-mean, smaller better: b (2.5) before a (3).
    assert rank_main(["rank", "--config", str(config_file), "--method", "aggregate-mean",
                      *inputs, "--out", str(tmp_path / "mean.csv")]) == 0
    assert (tmp_path / "mean.csv").read_text().splitlines()[1:] == ["T,b,2.5,1", "T,a,3,2"]


def test_bootstrap_of_a_phase_without_resamples_says_what_to_do(phase, tmp_path, capsys):
    phase.bootstrap_samples = 0
    (tmp_path / "phase.json").write_text(json.dumps(phase_config(phase)))
    (tmp_path / "table.csv").write_text("task,case,algorithm,value\nT,c,a,1\nT,c,b,2\n")
    assert rank_main(["bootstrap", "--config", str(tmp_path / "phase.json"), "--input",
                      str(tmp_path / "table.csv"), "--out-dir", str(tmp_path / "out")]) == 2
    assert "the phase draws no bootstrap resamples; use 'rank'" in one_line_error(capsys)


def test_aggregates_do_not_depend_on_the_order_of_the_cases():
    """The server's rows come in whatever order shards wrote them; the CLI's in the phase's:
    both sum exactly, so 0.1 + 0.2 + 0.3 is 0.6 in every order (a plain sum gives
    0.6000000000000001 in this one and 0.6 reversed)."""
    values = {"c1": 0.1, "c2": 0.2, "c3": 0.3}
    rows = [{"case": c, "label": 1, "values": {"dice": v}} for c, v in values.items()]
    config = {"metrics": ["dice"], "worst_distance_mm": None}
    geometries = {case: {} for case in values}
    forward = aggregate(rows, config=config, geometries=geometries)
    assert forward == aggregate(rows[::-1], config=config, geometries=geometries)
    assert forward["1"]["dice"] == 0.6 / 3
    phase = SegmentationPhase(task="T", labels={1: "organ"}, allowed=[0, 1], metrics=["dice"],
                              tolerances={1: 1.0}, surface="surfel", worst_distance_mm=None,
                              allow_partial=False, cases=geometries, ranked_metric="dice")
    offline = [{"case": c, "label": 1, "dice": v} for c, v in values.items()]
    assert phase_aggregate(offline, phase) == phase_aggregate(offline[::-1], phase) == forward
