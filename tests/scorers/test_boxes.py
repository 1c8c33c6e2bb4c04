"""Predicted-box readers (box CSV, COCO results JSON) and the Detections table."""

import json

import numpy as np
import pytest

from scorers.boxes import Detections, read_box_csv, read_coco_results
from scorers.errors import InputError

HEADER = "image_id,label,score,xmin,ymin,xmax,ymax\n"


def csv_file(tmp_path, text, name="pred.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_a_box_csv_in_file_order(tmp_path):
    path = csv_file(tmp_path, HEADER + "img2,A,0.9,1,2,30,40\n\nimg1, G ,1e-3,0.5,0,3,4.25\n")
    detections = read_box_csv(path, name="pred.csv", image_ids={"img1", "img2"}, classes="AG")
    assert detections.image_ids.tolist() == ["img2", "img1"]
    assert detections.labels.tolist() == ["A", "G"]
    np.testing.assert_array_equal(detections.scores, [0.9, 0.001])
    np.testing.assert_array_equal(detections.boxes, [[1, 2, 30, 40], [0.5, 0, 3, 4.25]])


def test_columns_may_come_in_any_order_and_a_bom_is_tolerated(tmp_path):
    text = "score,xmax,ymax,xmin,ymin,label,image_id\r\n0.5,9,8,1,2,B,x\r\n"
    detections = read_box_csv(csv_file(tmp_path, text, encoding="utf-8-sig"), name="p.csv")
    assert detections.image_ids.tolist() == ["x"] and detections.labels.tolist() == ["B"]
    np.testing.assert_array_equal(detections.boxes, [[1, 2, 9, 8]])


def test_header_only_means_no_detections(tmp_path):
    detections = read_box_csv(csv_file(tmp_path, HEADER), name="p.csv")
    assert len(detections) == 0 and detections.boxes.shape == (0, 4)


@pytest.mark.parametrize("text, message", [
    ("", "header must name the columns"),
    ("image_id,label,score,xmin,ymin,xmax\n", "header must name the columns"),
    ("image_id,label,score,xmin,ymin,xmax,ymax,extra\n", "header must name the columns"),
    ("image_id,label,label,xmin,ymin,xmax,ymax\n", "header must name the columns"),
    (HEADER + "a,A,0.5,1,2,3\n", "row 2: expected 7 fields, got 6"),
    (HEADER + "a,A,0.5,1,2,3,4,5\n", "row 2: expected 7 fields, got 8"),
    (HEADER + "a,A,high,1,2,3,4\n", "row 2 score: expected a decimal number, got 'high'"),
    (HEADER + "a,A,nan,1,2,3,4\n", "score: expected a decimal number, got 'nan'"),
    (HEADER + "a,A,NaN,1,2,3,4\n", "score: expected a decimal number"),
    (HEADER + "a,A,0.5,inf,2,3,4\n", "xmin: expected a decimal number"),
    (HEADER + "a,A,0.5,1_0,2,30,4\n", "xmin: expected a decimal number"),
    (HEADER + "a,A,0.5,1e400,2,3,4\n", "out of range"),
    (HEADER + "a,A,0.5,3,2,3,4\n", "row 2: box needs xmin < xmax"),
    (HEADER + "a,A,0.5,1,5,3,4\n", "ymin < ymax"),
    (HEADER + ",A,0.5,1,2,3,4\n", "image_id: is empty"),
    (HEADER + "a,,0.5,1,2,3,4\n", "label: is empty"),
    (HEADER + "b,A,0.5,1,2,3,4\n", "row 2: unknown image 'b'"),
    (HEADER + "a,Q,0.5,1,2,3,4\n", "class 'Q' is not one of the task's classes"),
    (HEADER + 'a,A,0.5,1,2,3,"4\n', "not a valid CSV"),
    (HEADER + 'a,A,0.5,1,2,3,4"x"\n', "not a valid CSV|decimal"),
])
def test_bad_csv_is_rejected(tmp_path, text, message):
    with pytest.raises(InputError, match=message) as raised:
        read_box_csv(csv_file(tmp_path, text), name="pred.csv", image_ids={"a"}, classes={"A"})
    assert str(raised.value).startswith("pred.csv")


def test_csv_limits_and_encoding(tmp_path):
    with pytest.raises(InputError, match="more than 2 rows"):
        read_box_csv(csv_file(tmp_path, HEADER + "a,A,0.5,1,2,3,4\n" * 3), name="p.csv",
                     max_rows=2)
    with pytest.raises(InputError, match="is not UTF-8"):
        read_box_csv(csv_file(tmp_path, HEADER + "é,A,0.5,1,2,3,4\n", encoding="latin-1"),
                     name="p.csv")
    with pytest.raises(InputError, match="not a valid CSV"):
        read_box_csv(csv_file(tmp_path, HEADER + "a,A,0.5,1,2,3," + "9" * 200_000 + "\n"),
                     name="p.csv")
    with pytest.raises(InputError, match=r"p\.csv: cannot be read"):
        read_box_csv(tmp_path / "absent.csv", name="p.csv")


def json_file(tmp_path, payload, name="results.json"):
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_reads_coco_results_with_names_and_indices(tmp_path):
    payload = [
        {"image_id": "1.2.3", "category_id": "E", "bbox": [10, 20, 5, 6], "score": 0.7},
        {"image_id": 17, "category_id": 4, "bbox": [0.5, 1, 2, 3], "score": 1, "id": 3},
    ]
    detections = read_coco_results(json_file(tmp_path, payload), name="r.json",
                                   image_ids={"1.2.3", "17"}, classes=["G", "E", "B", "A"])
    assert detections.image_ids.tolist() == ["1.2.3", "17"]
    assert detections.labels.tolist() == ["E", "G"]  # 4th of sorted A, B, E, G
    np.testing.assert_array_equal(detections.boxes, [[10, 20, 15, 26], [0.5, 1, 2.5, 4]])
    np.testing.assert_array_equal(detections.scores, [0.7, 1.0])


def _entry(**changes):
    entry = {"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 0.5}
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not ...}


@pytest.mark.parametrize("payload, message", [
    ({"annotations": []}, "expected a JSON list of detections, got dict"),
    ("[1, 2", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    (b"\xff\xfe[]".decode("latin-1"), "not valid JSON"),
    ([[1, 2, 3, 4]], "entry 1: expected an object"),
    ([_entry(score=...)], "entry 1: missing score"),
    ([_entry(), _entry(bbox=[1, 2, 3])], "entry 2: bbox must be a list"),
    ([_entry(bbox={"x": 1})], "bbox must be a list"),
    ([_entry(bbox=[1, 2, 0, 4])], "width and height must be positive"),
    ([_entry(bbox=[1, 2, -3, 4])], "width and height must be positive"),
    ([_entry(bbox=[1, "2", 3, 4])], "bbox: expected a number, got str"),
    ([_entry(bbox=[1, True, 3, 4])], "expected a number, got bool"),
    ([_entry(score="0.5")], "score: expected a number, got str"),
    ([_entry(score=None)], "score: expected a number, got NoneType"),
    ('[{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": NaN}]',
     "NaN is not a number"),
    ('[{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, Infinity], "score": 1}]',
     "Infinity is not a number"),
    ('[{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1e400}]',
     "score: number out of range"),
    ([_entry(image_id=1.5)], "image_id must be the image name"),
    ([_entry(image_id="zz")], "unknown image 'zz'"),
    ([_entry(image_id=7)], "unknown image '7'"),
    ([_entry(category_id="Q")], "class 'Q' is not one of the task's classes"),
    ([_entry(category_id=0)], "category_id 0 is outside 1..2"),
    ([_entry(category_id=3)], "category_id 3 is outside 1..2"),
    ([_entry(category_id=True)], "category_id must be a class name"),
    ([_entry(category_id=[1])], "category_id must be a class name"),
])
def test_bad_coco_results_are_rejected(tmp_path, payload, message):
    with pytest.raises(InputError, match=message) as raised:
        read_coco_results(json_file(tmp_path, payload), name="r.json", image_ids={"a"},
                          classes={"A", "B"})
    assert str(raised.value).startswith("r.json")


def test_coco_results_limits(tmp_path):
    path = json_file(tmp_path, [_entry(), _entry(), _entry()])
    with pytest.raises(InputError, match="more than 2 detections"):
        read_coco_results(path, name="r.json", max_rows=2)
    with pytest.raises(InputError, match="larger than the 50-byte limit"):
        read_coco_results(path, name="r.json", max_bytes=50)
    with pytest.raises(InputError, match="integer category_id needs the task's class list"):
        read_coco_results(json_file(tmp_path, [_entry(category_id=1)]), name="r.json")


def test_detections_validate_and_freeze_their_columns():
    detections = Detections(image_ids=["a"], labels=["A"], scores=[0.5], boxes=[[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="read-only"):
        detections.scores[0] = 1.0
    with pytest.raises(InputError, match="column lengths differ"):
        Detections(image_ids=["a", "b"], labels=["A"], scores=[0.5], boxes=[[1, 2, 3, 4]])
    with pytest.raises(InputError, match="must be finite"):
        Detections(image_ids=["a"], labels=["A"], scores=[np.nan], boxes=[[1, 2, 3, 4]])
    with pytest.raises(InputError, match="box 1 needs xmin < xmax"):
        Detections(image_ids=["a"], labels=["A"], scores=[0.5], boxes=[[3, 2, 3, 4]])
