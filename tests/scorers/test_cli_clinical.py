"""``python -m scorers clinical``: CSV files in, the platform's metric values out as JSON."""

import json

import numpy as np
import pytest

from scorers import clinical, survival
from scorers import survival as survival_metrics
from scorers.cli import main


def _csv(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_classification(tmp_path):
    prob, label = [0.9, 0.2, 0.6, 0.6, 0.1], [1, 0, 1, 0, 0]
    cases = [f"NSCLC_{i:03d}" for i in range(5)]
    pred = _csv(tmp_path / "pred.csv", "case,egfr_probability", zip(cases, prob, strict=True))
    ref = _csv(tmp_path / "ref.csv", "case,label", zip(cases[::-1], label[::-1], strict=True))
    out = tmp_path / "out.json"
    assert main(["clinical", "--pred", str(pred), "--ref", str(ref), "--out", str(out),
                 "--threshold", "0.6"]) == 0
    result = json.loads(out.read_text())
    assert result["kind"] == "classification" and result["n_cases"] == 5
    metrics = result["metrics"]
    assert metrics["auroc"] == pytest.approx(clinical.auroc(prob, label))
    assert metrics["sensitivity"] == 1.0 and metrics["specificity"] == pytest.approx(2 / 3)
    assert set(metrics) == {"auroc", "average_precision", "balanced_accuracy", "sensitivity",
                            "specificity", "log_loss", "brier"}


def test_multiclass_with_class_names(tmp_path):
    header = "case,adeno_probability,squamous_probability,other_probability"
    pred = _csv(tmp_path / "pred.csv", header,
                [("a", 0.7, 0.2, 0.1), ("b", 0.1, 0.8, 0.1), ("c", 0.2, 0.2, 0.6),
                 ("d", 0.5, 0.4, 0.1)])
    ref = _csv(tmp_path / "ref.csv", "case,label",
               [("a", "adeno"), ("b", "squamous"), ("c", "other"), ("d", "squamous")])
    out = tmp_path / "out.json"
    assert main(["clinical", "--pred", str(pred), "--ref", str(ref), "--out", str(out)]) == 0
    expected = clinical.macro_auroc_ovr(
        np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]]),
        [0, 1, 2, 1])
    assert json.loads(out.read_text())["metrics"] == {"macro_auroc": pytest.approx(expected)}


def test_survival(tmp_path):
    risk, time, event = [2.0, 1.0, 0.5, 0.1, 0.0], [1, 3, 3, 6, 9], [1, 1, 0, 1, 0]
    cases = list("vwxyz")
    pred = _csv(tmp_path / "pred.csv", "case,risk", zip(cases, risk, strict=True))
    ref = _csv(tmp_path / "ref.csv", "case,time,event", zip(cases, time, event, strict=True))
    out = tmp_path / "out.json"
    assert main(["clinical", "--pred", str(pred), "--ref", str(ref), "--out", str(out),
                 "--tau", "7", "--times", "2", "5"]) == 0
    result = json.loads(out.read_text())
    assert result["kind"] == "survival"
    assert result["metrics"]["c_index"] == survival.harrell_c(risk, time, event)
    assert result["metrics"]["uno_c"] == pytest.approx(survival.uno_c(risk, time, event, tau=7))
    assert set(result["td_auc_per_time"]) == {"2", "5"}


def test_bad_input_prints_one_line(tmp_path, capsys):
    pred = _csv(tmp_path / "pred.csv", "case,probability", [("a", 0.5), ("b", 2)])
    ref = _csv(tmp_path / "ref.csv", "case,label", [("a", 0), ("b", 1)])
    code = main(["clinical", "--pred", str(pred), "--ref", str(ref), "--out",
                 str(tmp_path / "out.json")])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: pred.csv row 3, column probability: '2' is not a probability in [0, 1]\n")
    pred = _csv(tmp_path / "pred.csv", "case,probability", [("a", 0.5), ("b", 1)])
    code = main(["clinical", "--pred", str(pred), "--ref", str(ref), "--out",
                 str(tmp_path / "out.json"), "--metric", "c_index"])
    assert code == 1
    assert "--metric c_index: expected one of auroc" in capsys.readouterr().err


def test_a_task_folder_as_reference_scores_as_the_platform_does(tmp_path, capsys):
    """--ref the task folder (or its dataset.json): the organizer's labels CSV, with other
    targets' columns and other subjects' rows, read through the "clinical" block."""
    from evaluation.services.demo_data import write_clinical_predictions, write_radiogenomics_tasks

    egfr, survival, latent = write_radiogenomics_tasks(tmp_path / "t", n_cases=12, seed=5,
                                                       size=8)
    for folder in (egfr, survival):  # a training subject's row, ignored
        with open(folder / "labelsTs" / "labels.csv", "a") as fh:
            fh.write("train_001,mutant,10,1\n")
    rows = [line.split(",") for line in
            (egfr / "labelsTs" / "labels.csv").read_text().splitlines()[1:-1]]
    label = np.array([r[1] == "mutant" for r in rows], dtype=int)
    time, event = np.array([float(r[2]) for r in rows]), np.array([int(r[3]) for r in rows])
    pred = write_clinical_predictions(latent, tmp_path / "p.csv", column="probability",
                                      quality=0.8, seed=1)
    prob = np.array([float(line.split(",")[1]) for line in pred.read_text().splitlines()[1:]])
    out = tmp_path / "out.json"
    assert main(["clinical", "--pred", str(pred), "--ref", str(egfr), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["auroc"] == clinical.auroc(prob, label)
    risk = write_clinical_predictions(latent, tmp_path / "r.csv", column="risk", quality=0.8,
                                      seed=2)
    risk_values = np.array([float(line.split(",")[1])
                            for line in risk.read_text().splitlines()[1:]])
    assert main(["clinical", "--pred", str(risk), "--ref", str(survival / "dataset.json"),
                 "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["c_index"] == survival_metrics.harrell_c(risk_values, time, event)
    assert metrics["uno_c"] == pytest.approx(survival_metrics.uno_c(
        risk_values, time, event, tau=float(np.nextafter(time.max(), np.inf))), abs=1e-12)
    # The organizer's CSV given as a labels file says to pass the folder; a wrong header
    # names the task's; a bad label names the labels file's own row.
    capsys.readouterr()
    assert main(["clinical", "--pred", str(pred), "--ref", str(egfr / "labelsTs" / "labels.csv"),
                 "--out", str(out)]) == 1
    assert "pass the task's folder (or its dataset.json) as --ref" in capsys.readouterr().err
    assert main(["clinical", "--pred", str(risk), "--ref", str(egfr), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: r.csv row 1: expected the header case,probability (or case,egfr_probability), "
        "got 'case,risk'\n")
    labels = egfr / "labelsTs" / "labels.csv"
    lines = labels.read_text().splitlines()
    lines.insert(1, "train_000,mutant,5,1")
    lines[3] = lines[3].replace("wildtype", "wt").replace("mutant", "wt")
    labels.write_text("\n".join(lines) + "\n")
    assert main(["clinical", "--pred", str(pred), "--ref", str(egfr), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: labels.csv row 4, column egfr: expected one of the classes wildtype, mutant, "
        "got 'wt'\n")


def test_a_folder_of_several_targets_needs_target(tmp_path, capsys):
    from evaluation.services.demo_data import write_clinical_predictions, write_radiogenomics_tasks

    egfr, survival, latent = write_radiogenomics_tasks(tmp_path / "t", n_cases=10, seed=5,
                                                       size=8)
    dataset = json.loads((egfr / "dataset.json").read_text())
    blocks = [dataset["clinical"],
              json.loads((survival / "dataset.json").read_text())["clinical"]]
    (egfr / "dataset.json").write_text(json.dumps({**dataset, "clinical": blocks}))
    risk = write_clinical_predictions(latent, tmp_path / "r.csv", column="risk", quality=0.8,
                                      seed=2)
    out = tmp_path / "out.json"
    args = ["clinical", "--pred", str(risk), "--ref", str(egfr), "--out", str(out)]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        'error: dataset.json: "clinical" lists 2 targets (egfr, overall_survival): choose one '
        "with --target\n")
    assert main([*args, "--target", "overall_survival"]) == 0
    assert json.loads(out.read_text())["kind"] == "survival"


def test_survival_curves_give_the_integrated_brier_score(tmp_path, capsys):
    from sksurv.metrics import integrated_brier_score
    from sksurv.util import Surv

    rng = np.random.default_rng(3)
    n, times = 40, [2.0, 4.0, 6.0]
    time = np.round(rng.exponential(5, n), 1) + 0.1
    event = rng.random(n) < 0.6
    hazard = rng.lognormal(0, 0.5, n)
    curves = np.exp(-np.outer(hazard, times) / 5)
    cases = [f"c{i:02d}" for i in range(n)]
    pred = _csv(tmp_path / "pred.csv", "case,risk,S@2,S@4,S@6",
                [(c, h, *(repr(float(v)) for v in row))
                 for c, h, row in zip(cases, hazard, curves, strict=True)])
    ref = _csv(tmp_path / "ref.csv", "case,time,event",
               zip(cases, time, event.astype(int), strict=True))
    out = tmp_path / "out.json"
    args = ["clinical", "--pred", str(pred), "--ref", str(ref), "--out", str(out)]
    assert main([*args, "--times", "2", "4", "6"]) == 0
    y = Surv.from_arrays(event, time)
    expected = integrated_brier_score(y, y, curves, np.array(times))
    assert json.loads(out.read_text())["metrics"]["integrated_brier"] == pytest.approx(
        expected, abs=1e-9)
    capsys.readouterr()
    assert main([*args, "--times", "2", "4"]) == 1
    assert capsys.readouterr().err == (
        "error: pred.csv row 1: survival curve columns S@2,S@4,S@6: expected one per --times "
        "(S@2,S@4)\n")
    curves[5, 2] = curves[5, 1] + 0.01
    pred = _csv(tmp_path / "pred.csv", "case,risk,S@2,S@4,S@6",
                [(c, h, *(repr(float(v)) for v in row))
                 for c, h, row in zip(cases, hazard, curves, strict=True)])
    assert main([*args, "--times", "2", "4", "6"]) == 1
    assert "pred.csv row 7, column S@6:" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    ({"target": "egfr status"}, '"clinical.target" must be a name'),
    ({"classes": ["mutant"]}, '"clinical.classes" must list at least two'),
    ({"positive_class": "positive"}, '"clinical.positive_class" must be one of the two classes'),
    ({"label_column": " "}, '"clinical.label_column" must name a column'),
])
def test_a_task_folder_block_is_checked_as_the_platform_checks_it(tmp_path, capsys, change,
                                                                   message):
    """One definition of the block (scorers.clinical_task.definition) for the CLI and the
    platform's import: the messages of tests/challenges/test_clinical_import.py."""
    from evaluation.services.demo_data import write_clinical_predictions, write_radiogenomics_tasks

    egfr, _, latent = write_radiogenomics_tasks(tmp_path / "t", n_cases=10, seed=5, size=8)
    dataset = json.loads((egfr / "dataset.json").read_text())
    dataset["clinical"] = {**dataset["clinical"], **change}
    (egfr / "dataset.json").write_text(json.dumps(dataset))
    pred = write_clinical_predictions(latent, tmp_path / "p.csv", column="probability",
                                      quality=0.8, seed=2)
    assert main(["clinical", "--pred", str(pred), "--ref", str(egfr),
                 "--out", str(tmp_path / "out.json")]) == 1
    assert message in capsys.readouterr().err
