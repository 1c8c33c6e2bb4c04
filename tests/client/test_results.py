"""A submission's results as the command shows them (podium_client.results): labels by value
and name whichever the server keys the aggregate by, detection's one row and per-class AP."""

from podium_client.results import heading, rows

DICE = {"name": "dice", "label": "Dice", "unit": "", "decimals": 4}
HD95 = {"name": "hd95", "label": "HD95", "unit": "mm", "decimals": 2}
LABELS = {"0": "background", "1": "liver", "2": "tumour"}


def test_segmentation_labels_by_value_and_name_whatever_the_key():
    for key in ("2", "tumour"):
        results = {"metrics": [DICE, HD95], "aggregate": {key: {"dice": 0.5, "hd95": None}},
                   "cases": [{"case": "c0", "label": 2, "dice": 0.5, "hd95": None,
                              "missing": True}]}
        metrics, found = rows({"results": results}, LABELS)
        assert [heading(m) for m in metrics] == ["Dice", "HD95 (mm)"]
        assert found == [
            {"case": None, "label": 2, "label_name": "tumour", "dice": 0.5, "hd95": None},
            {"case": "c0", "label": 2, "label_name": "tumour", "dice": 0.5, "hd95": None,
             "missing": True}]


def test_detection_has_one_row_and_the_ap_of_each_class():
    m_ap = {"name": "mAP", "label": "mAP", "unit": "", "decimals": 4}
    ap50 = {"name": "AP50", "label": "AP50", "unit": "", "decimals": 4}
    results = {"metrics": [m_ap, ap50], "aggregate": {
        "mAP": 0.6, "AP50": 0.7, "per_class": {"nodule": 0.8, "mass": 0.4}}}
    _, found = rows({"results": results}, {})
    assert [(r["label"], r["mAP"], r["AP50"]) for r in found] == [
        ("all", 0.6, 0.7), ("mass", 0.4, None), ("nodule", 0.8, None)]


def test_no_results_no_rows():
    assert rows({"results": None}, LABELS) == ([], [])
