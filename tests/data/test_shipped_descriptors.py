"""OST's published descriptors (data/descriptors/, MIT): the copies SOURCES.md records, readable by our reader, one
entry per class of the class file they follow, and found for a vocabulary by name."""

import hashlib
import json
import re
from pathlib import Path

import pytest

from hfvideoclip.data.benchmarks import SHIPPED_SPLITS_DIR, k600_split_classes, read_published_classes
from hfvideoclip.text.descriptor_table import OFFICIAL_OST_DIR, official_descriptor_table
from hfvideoclip.text.descriptors import load_descriptions

ROOT = OFFICIAL_OST_DIR.parent.parent  # src/hfvideoclip/data/descriptors
LABELS = SHIPPED_SPLITS_DIR / "vifi_clip" / "labels"
CLASS_FILES = {"hmdb": "hmdb_51_labels.csv", "ucf": "ucf_101_labels.csv", "k400": "kinetics_400_labels.csv",
               "sth": "ssv2_labels.csv", **{f"k600/split{i}": f"ZS_split{i}_K600.csv" for i in (1, 2, 3)}}


def _blob(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _table():
    text = (ROOT / "SOURCES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{40})` \|", text, flags=re.MULTILINE)
    return {path: (int(lines), blob) for path, lines, blob in rows}


def test_shipped_files_match_sources_md():
    table = _table()
    shipped = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file()}
    assert shipped - {"SOURCES.md"} == set(table)
    assert "ost/LICENSE.txt" in table and "MIT License" in (ROOT / "ost" / "LICENSE.txt").read_text()
    for relative, (lines, blob) in table.items():
        assert len((ROOT / relative).read_text(encoding="utf-8").splitlines()) == lines, relative
        assert _blob(ROOT / relative) == blob, relative


@pytest.mark.parametrize("folder", list(CLASS_FILES))
def test_every_file_reads_with_one_entry_per_class_in_order(folder):
    count = len(read_published_classes(LABELS / CLASS_FILES[folder]))
    files = sorted((OFFICIAL_OST_DIR / folder).rglob("*.json"))
    assert len(files) == (2 if folder == "sth" else 6)
    for path in files:
        keys = list(json.loads(path.read_text(encoding="utf-8")))
        assert keys == [str(i) for i in range(count)], path  # OST zips the keys with the class file in order
        per_class = int(re.search(r"(\d)_descriptors", path.name).group(1))
        loaded = load_descriptions(path, count, format="ost", expected_per_class=per_class)
        assert loaded.kind == ("spatial" if "spatio" in path.as_posix() else "temporal")


def test_a_vocabulary_gets_the_files_of_its_dataset():
    split2 = k600_split_classes()[1]
    table, folder = official_descriptor_table(split2)
    assert folder == "k600/split2" and set(table) == set(split2)
    ucf = read_published_classes(LABELS / "ucf_101_labels.csv")
    table, folder = official_descriptor_table([name.upper() for name in ucf[:5]], num_descriptors=8)
    assert folder == "ucf" and all(len(entry["temporal"]) == 8 for entry in table.values())
    assert official_descriptor_table(["red circle moving left"]) == ({}, None)
    assert official_descriptor_table(["pushing something from left to right"], num_descriptors=2) == ({}, None)
