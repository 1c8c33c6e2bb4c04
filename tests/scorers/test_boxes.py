"""Predicted-box readers (box CSV, COCO results JSON) and the Detections table."""

import json
import time
import tracemalloc

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


UID = "1.2.826.0.1.3680043.8.498.1"


@pytest.mark.parametrize("image_id, message", [
    (f"{UID}.dcm", f"unknown image '{UID}.dcm': image ids are SOP Instance UIDs without "
                   rf"\.dcm; drop the suffix \('{UID}'\)$"),
    (f"{UID}.DCM", r"SOP Instance UIDs without \.dcm; drop the suffix"),
    ("a.png", r"unknown image 'a\.png': image ids have no file suffix such as \.png; drop the "
              r"suffix \('a'\)$"),
    ("a.nii.gz", r"no file suffix such as \.nii\.gz; drop the suffix \('a'\)$"),
    ("b.dcm", r"unknown image 'b\.dcm'$"),  # b is no image either: no hint
    ("a.txt", r"unknown image 'a\.txt'$"),  # not an image suffix
])
def test_an_image_id_with_a_file_suffix_is_told_to_drop_it(tmp_path, image_id, message):
    text = HEADER + f"{image_id},A,0.5,1,2,3,4\n"
    with pytest.raises(InputError, match=message) as raised:
        read_box_csv(csv_file(tmp_path, text), name="pred.csv", image_ids={"a", UID},
                     classes={"A"})
    assert str(raised.value).startswith("pred.csv row 2: unknown image")
    path = tmp_path / "pred.json"
    path.write_text(json.dumps([{"image_id": image_id, "category_id": "A", "score": 0.5,
                                 "bbox": [1, 2, 3, 4]}]))
    with pytest.raises(InputError, match=message):
        read_coco_results(path, name="pred.json", image_ids={"a", UID}, classes={"A"})


def test_csv_limits_and_encoding(tmp_path):
    with pytest.raises(InputError, match="more than 2 rows"):
        read_box_csv(csv_file(tmp_path, HEADER + "a,A,0.5,1,2,3,4\n" * 3), name="p.csv",
                     max_rows=2)
    with pytest.raises(InputError, match="is not UTF-8"):
        read_box_csv(csv_file(tmp_path, HEADER + "é,A,0.5,1,2,3,4\n", encoding="latin-1"),
                     name="p.csv")
    with pytest.raises(InputError, match="row 2: longer than 4096 characters"):
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
    ({"annotations": []}, "expected a JSON list of detections, got an object"),
    ("[1, 2", "entry 1: expected an object with image_id, category_id, bbox and score, got a "
              "number"),
    ("[" * 100_000 + "]" * 100_000, "entry 1: expected an object .*, got a list"),
    (b"\xff\xfe[]".decode("latin-1"), "expected a JSON list of detections, got something "
                                        "that is not JSON"),
    ("[" + json.dumps(_entry()) + "", "not valid JSON \\(the file ends after entry 1\\)"),
    ('[{"image_id": "a"', "entry 1: not valid JSON \\(the file ends inside the entry\\)"),
    ("[" + json.dumps(_entry()) + ",]", "entry 2: expected an object .*, got the end of the "
                                        "list"),
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


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_coco_results_in_another_encoding_than_utf8(tmp_path, encoding):
    path = tmp_path / "r.json"
    path.write_bytes(json.dumps([_entry()]).encode(encoding))
    with pytest.raises(InputError, match=r"^r\.json: is not UTF-8 text$"):
        read_coco_results(path, name="r.json")
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([_entry(image_id="\u00e9")]).encode())
    assert read_coco_results(path, name="r.json").image_ids.tolist() == ["\u00e9"]


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


@pytest.mark.parametrize("blank", ["\n", ",,,,,,\n", " , , ,\r\n"])
def test_blank_csv_rows_count_toward_the_row_cap(tmp_path, blank):
    path = csv_file(tmp_path, HEADER + "a,A,0.5,1,2,3,4\n" + blank * 2)
    assert len(read_box_csv(path, name="p.csv", max_rows=3)) == 1
    with pytest.raises(InputError, match=r"^p\.csv: more than 2 rows$"):
        read_box_csv(path, name="p.csv", max_rows=2)


def test_a_csv_of_blank_rows_is_refused_at_the_cap_not_read_to_the_end(tmp_path):
    path = csv_file(tmp_path, HEADER + ",,,,,,\n" * 2_000_000)  # 14 MB of nothing
    start = time.perf_counter()
    with pytest.raises(InputError, match="more than 1000 rows"):
        read_box_csv(path, name="p.csv", max_rows=1000, max_bytes=1 << 30)
    assert time.perf_counter() - start < 0.1


@pytest.mark.parametrize("line", ["," * 100_000, "a,A,0.5,1,2,3," + "9" * 5000,
                                  '"' + "x" * 5000])
def test_overlong_csv_lines_are_refused(tmp_path, line):
    with pytest.raises(InputError, match=r"^p\.csv row 2: longer than 4096 characters$"):
        read_box_csv(csv_file(tmp_path, HEADER + line + "\n"), name="p.csv")


def test_csv_byte_cap(tmp_path):
    path = csv_file(tmp_path, HEADER + "a,A,0.5,1,2,3,4\n")
    assert len(read_box_csv(path, name="p.csv", max_bytes=path.stat().st_size)) == 1
    with pytest.raises(InputError, match=r"^p\.csv: larger than the 50-byte limit for a box CSV"):
        read_box_csv(path, name="p.csv", max_bytes=50)


def test_keys_the_coco_reader_ignores_cost_nothing(tmp_path):
    # One valid box, then a key holding a million empty lists: json.loads built them all.
    path = tmp_path / "junk.json"
    path.write_text('[{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1, '
                    '"x": [' + ",".join(["[]"] * 1_000_000) + "]}]")
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as raised:
            read_coco_results(path, name="r.json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(raised.value) == "r.json entry 1: longer than 4096 bytes"
    assert peak < 4 << 20


def test_extra_scalar_keys_from_coco_tooling_are_skipped(tmp_path):
    payload = [{"id": 7, "image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4],
                "score": 0.5, "area": 12.0, "iscrowd": 0, "note": None,
                "segmentation": [[1, 2, 1, 6, 4, 6, 4, 2]]}]
    detections = read_coco_results(json_file(tmp_path, json.dumps(payload, indent=4)),
                                   name="r.json", image_ids={"a"}, classes={"A"})
    np.testing.assert_array_equal(detections.boxes, [[1, 2, 4, 6]])


def _entries(text: str) -> str:
    good = '{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 0.5}'
    return f"[{good}, {text}]"


@pytest.mark.parametrize(("text", "message"), [
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1e999999}',
     "r.json entry 2 score: number out of range"),
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": ' + "9" * 10_000_000
     + "}", "r.json entry 2: longer than 4096 bytes"),
    ('{"image_id": "' + "a" * 10_000_000 + '"}', "r.json entry 2: longer than 4096 bytes"),
    ('{"x": [[[1]]]}', "r.json entry 2: values nested more than two lists or objects deep"),
    ('[' * 100_000, "r.json entry 2: expected an object with image_id, category_id, bbox "
                    "and score"),
    ('{"image_id": "a", "image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1}',
     "r.json entry 2: key 'image_id' appears twice"),
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 12345678901234567890}',
     "r.json entry 2: number '12345678901234567890' has more than 18 digits"),
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1',
     "r.json entry 2: not valid JSON (brackets do not match)"),
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1}] x',
     "r.json: not valid JSON (data after the closing ])"),
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 1} {',
     "r.json: not valid JSON (expected , or ] after entry 2)"),
    ('{"image_id": "a", "category_id": "A", "bbox": [1, 2, 3, 4], "score": 01}',
     "r.json entry 2: not valid JSON"),
])
def test_hostile_coco_results_are_refused_cheaply_naming_the_entry(tmp_path, text, message):
    path = json_file(tmp_path, _entries(text))
    start = time.perf_counter()
    with pytest.raises(InputError) as raised:
        read_coco_results(path, name="r.json", image_ids={"a"}, classes={"A"})
    assert time.perf_counter() - start < 0.2
    assert str(raised.value).startswith(message)
