"""The VOC XML reader: real-world variants accepted, every validation rule, hostile files."""

import pytest

from scorers.errors import InputError
from scorers.voc import AnnotatedImage, Box, read_voc_folder, read_voc_xml
from tests.scorers.detection_fixtures import write_voc_xml

# As Lung-PET-CT-Dx writes them: capital-D <Difficult>, "Unknow" placeholders, the file named
# after the slice's SOPInstanceUID.
LUNG_PET_CT_DX = """<annotation verified="no">
  <folder>Unknow</folder>
  <filename>Unknow</filename>
  <path>Unknow</path>
  <source><database>Unknown</database></source>
  <size><width>512</width><height>512</height><depth>1</depth></size>
  <segmented>0</segmented>
  <object>
    <name>A</name><pose>Unspecified</pose><truncated>0</truncated><Difficult>0</Difficult>
    <bndbox><xmin>302</xmin><ymin>287</ymin><xmax>338</xmax><ymax>323</ymax></bndbox>
  </object>
  <object>
    <name>G</name><pose>Unspecified</pose><truncated>0</truncated><Difficult>1</Difficult>
    <bndbox><xmin>10.5</xmin><ymin>20</ymin><xmax>40</xmax><ymax>60</ymax></bndbox>
  </object>
</annotation>
"""
UID = "1.3.6.1.4.1.14519.5.2.1.6655.2359.216592467452891826281937545318"


def write(tmp_path, text, name=f"{UID}.xml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_a_lung_pet_ct_dx_file(tmp_path):
    image = read_voc_xml(write(tmp_path, LUNG_PET_CT_DX), name="x.xml", classes="ABEG")
    assert image == AnnotatedImage(
        image_id=UID, width=512, height=512,
        boxes=(Box("A", 302, 287, 338, 323, False), Box("G", 10.5, 20, 40, 60, True)))


def test_tags_are_case_insensitive_and_difficult_defaults_to_zero(tmp_path):
    text = ("<ANNOTATION><Size><Width>50</Width><HEIGHT>40</HEIGHT></Size><Object><Name>B</Name>"
            "<BndBox><XMin>1</XMin><YMin>2</YMin><XMax>3</XMax><YMax>4</YMax></BndBox></Object>"
            "</ANNOTATION>")
    image = read_voc_xml(write(tmp_path, text, "img.xml"), name="img.xml")
    assert image.boxes == (Box("B", 1, 2, 3, 4, False),) and image.image_id == "img"


def test_image_without_objects_has_no_boxes(tmp_path):
    text = "<annotation><size><width>5</width><height>5</height></size></annotation>"
    assert read_voc_xml(write(tmp_path, text), name="x.xml").boxes == ()


def _object(box="<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>", name="A",
            extra=""):
    return f"<object><name>{name}</name>{extra}<bndbox>{box}</bndbox></object>"


def _doc(body, width="10", height="10"):
    return (f"<annotation><size><width>{width}</width><height>{height}</height></size>{body}"
            "</annotation>")


@pytest.mark.parametrize("text, message", [
    (_doc(_object("<xmin>5</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")), "xmin < xmax"),
    (_doc(_object("<xmin>1</xmin><ymin>6</ymin><xmax>5</xmax><ymax>5</ymax>")), "ymin < ymax"),
    (_doc(_object("<xmin>1</xmin><ymin>1</ymin><xmax>11</xmax><ymax>5</ymax>")), "<= 10"),
    (_doc(_object("<xmin>-1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")), "0 <= xmin"),
    (_doc(_object("<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5e9</ymax>")), "ymax"),
    (_doc(_object("<xmin>1,5</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")),
     "expected a decimal number, got '1,5'"),
    (_doc(_object("<xmin>nan</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")), "decimal"),
    (_doc(_object("<xmin>inf</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")), "decimal"),
    (_doc(_object("<xmin>1e999</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")),
     "out of range"),
    (_doc(_object("<xmin></xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")), "got ''"),
    (_doc(_object("<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>")), "<xmin> is missing"),
    (_doc(_object(name="Z")), "class 'Z' is not one of the task's classes"),
    (_doc(_object(name=" ")), "is empty"),
    (_doc(_object(extra="<difficult>2</difficult>")), "must be 0 or 1"),
    (_doc(_object(extra="<difficult>0</difficult><Difficult>1</Difficult>")),
     "appears 2 times"),
    (_doc("<object><name>A</name></object>"), "<bndbox> is missing"),
    (_doc(_object(), width="0"), "outside 1..100000"),
    (_doc(_object(), width="10.5"), "whole number"),
    (_doc(_object(), height="200000"), "outside 1..100000"),
    ("<annotation><object/></annotation>", "<size> is missing"),
    ("<notvoc><size/></notvoc>", "root element must be <annotation>"),
    ("<annotation><size>", "not well-formed"),
    ("", "not well-formed"),
])
def test_invalid_files_are_rejected(tmp_path, text, message):
    with pytest.raises(InputError, match=message) as raised:
        read_voc_xml(write(tmp_path, text), name="case7.xml", classes={"A", "B"})
    assert str(raised.value).startswith("case7.xml")
    assert str(tmp_path) not in str(raised.value)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><folder>&lol9;</folder><size><width>5</width><height>5</height></size></annotation>
"""


@pytest.mark.parametrize("text", [
    BILLION_LAUGHS,
    # XXE: an external entity reading a local file
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<annotation><folder>&xxe;</folder><size><width>5</width><height>5</height></size>"
    "</annotation>",
    # External DTD
    '<?xml version="1.0"?><!DOCTYPE annotation SYSTEM "http://example.com/voc.dtd">'
    "<annotation><size><width>5</width><height>5</height></size></annotation>",
    # An internal DTD with no entities at all
    "<!DOCTYPE annotation []><annotation><size><width>5</width><height>5</height></size>"
    "</annotation>",
])
def test_dtds_and_entities_are_rejected_before_expansion(tmp_path, text):
    with pytest.raises(InputError, match="DTDs and entity declarations are not allowed"):
        read_voc_xml(write(tmp_path, text), name="evil.xml")


def test_oversized_file_is_rejected_without_parsing(tmp_path):
    padding = "<!--" + "x" * (2 << 20) + "-->"
    path = write(tmp_path, _doc(_object()) + padding)
    with pytest.raises(InputError, match="larger than the 1048576-byte limit"):
        read_voc_xml(path, name="big.xml")
    with pytest.raises(InputError, match="larger than the 100-byte limit"):
        read_voc_xml(write(tmp_path, _doc(_object())), name="x.xml", max_bytes=100)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"gone\.xml: cannot be read"):
        read_voc_xml(tmp_path / "nothing.xml", name="gone.xml")


def test_folder_reads_xml_files_by_image_id_and_ignores_other_files(tmp_path):
    for name in ("b", "a"):
        write_voc_xml(tmp_path, AnnotatedImage(name, 20, 20, (Box("A", 1, 1, 5, 5),)),
                      difficult_tag="Difficult")
    (tmp_path / "notes.txt").write_text("not an annotation")
    (tmp_path / "sub.xml").mkdir()
    images = read_voc_folder(tmp_path, classes={"A"})
    assert list(images) == ["a", "b"]
    assert images["a"].boxes == (Box("A", 1, 1, 5, 5),)


def test_folder_rejects_duplicate_ids_and_emptiness(tmp_path):
    with pytest.raises(InputError, match="contains no VOC XML"):
        read_voc_folder(tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        read_voc_folder(tmp_path / "missing")
    text = _doc(_object())
    write(tmp_path, text, "a.xml")
    write(tmp_path, text, "a.XML")
    with pytest.raises(InputError, match="image id 'a' appears twice"):
        read_voc_folder(tmp_path)


def test_folder_names_the_bad_file(tmp_path):
    write(tmp_path, _doc(_object()), "good.xml")
    write(tmp_path, _doc(_object(name="Q")), "bad.xml")
    with pytest.raises(InputError, match=r"^bad\.xml: object 1: class 'Q'"):
        read_voc_folder(tmp_path, classes={"A"})
