"""Description files of FROSTER, MSTA and OST: round trips, every bad-file message, prompts, class-name files."""

import json

import pytest

from hfvideoclip.text.descriptors import (
    OST_SPATIAL_TEMPLATE,
    OST_TEMPORAL_TEMPLATE,
    ClassDescriptions,
    descriptor_prompts,
    load_class_names,
    load_descriptions,
    save_descriptions,
)
from hfvideoclip.text.templates import KINETICS_TEMPLATES

NAMES = ["abseiling", "ski jumping", "driving car"]
FROSTER = {"0": "Abseiling: This video shows the process of abseiling",
           "1": "Ski jumping: A skier jumps off a ramp",
           "2": "Driving a car: In this video, a person is driving a car"}  # "a" as in FROSTER's own K400 file
OST_SPATIAL = {"0": ["climber", "rope", "harness", "mountain"], "1": ["ski ramp", "snow-covered mountain",
               "ski jumper in mid-air", "ski jumper in a graceful pose"], "2": ["car", "road", "wheel", "driver"]}
OST_TEMPORAL = {"0": ["Strap on the harness", "Find an anchor", "Rappel down", "Land safely"],
                "1": ["Prepare for the jump", "Start the approach", "Take off from the ramp", "Perform aerial maneuvers"],
                "2": ["Open the door", "Start the engine", "Steer", "Park"]}
MSTA = {"0": ["A climber descends a cliff on a rope.", "The harness holds the climber."],
        "1": ["A skier flies over the snow.", "The ramp is steep."],
        "2": ["A person sits behind the wheel.", "The car moves on the road."]}


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# ------------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("format, kind, content", [
    ("froster", None, FROSTER), ("ost", "spatial", OST_SPATIAL), ("ost", "temporal", OST_TEMPORAL),
    ("msta", "spatial", MSTA), ("msta", "temporal", MSTA)])
def test_round_trip(tmp_path, format, kind, content):
    source = _write(tmp_path, "in.json", content)
    loaded = load_descriptions(source, 3, format=format, kind=kind, class_names=NAMES)
    assert loaded.num_classes == 3 and loaded.format == format and loaded.path == str(source)
    assert loaded.kind == (kind or "description") and loaded.class_names == NAMES
    written = save_descriptions(loaded, tmp_path / "sub" / "out.json")
    assert json.loads(written.read_text()) == content  # the same layout: string per class or list per class
    again = load_descriptions(written, 3, format=format, kind=kind)
    assert again.per_class == loaded.per_class and loaded.path == str(written)


def test_kind_read_from_official_file_names(tmp_path):
    for relative, kind in [("spatio_descriptors/4_descriptors.json", "spatial"),
                           ("temporal_descriptors/4_descriptors.json", "temporal"),
                           ("split1/spatio_4_descriptors.json", "spatial"), ("temporal.json", "temporal")]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(OST_SPATIAL))
        assert load_descriptions(path, 3, format="ost", expected_per_class=4).kind == kind
    with pytest.raises(ValueError, match=r"kind='spatial' or kind='temporal'.*could not tell from the file name"):
        load_descriptions(_write(tmp_path, "descriptors.json", OST_SPATIAL), format="ost")


def test_num_classes_defaults_to_class_names_or_file(tmp_path):
    path = _write(tmp_path, "d.json", OST_SPATIAL)
    assert load_descriptions(path, format="ost", kind="spatial").num_classes == 3
    assert load_descriptions(path, format="ost", kind="spatial", class_names=NAMES).num_classes == 3


# ---------------------------------------------------------------------------------------------- bad files


def _error(tmp_path, content, *, format="ost", kind="spatial", num_classes=3, **kwargs) -> str:
    path = _write(tmp_path, "bad.json", content)
    with pytest.raises(ValueError) as info:
        load_descriptions(path, num_classes, format=format, kind=kind, **kwargs)
    message = str(info.value)
    assert str(path) in message  # every message names the file
    return message


def test_not_json_gives_line_and_column(tmp_path):
    message = _error(tmp_path, '{\n  "0": ["a"],\n  "1": ["b"]\n  "2": ["c"]\n}')
    assert "not valid JSON" in message and "line 4, column 3" in message and "Fix the syntax" in message


def test_not_an_object(tmp_path):
    message = _error(tmp_path, [["a"], ["b"], ["c"]])
    assert "top level is an array, not an object" in message and '"0": ["ski ramp"' in message


def test_keys_must_be_class_indices(tmp_path):
    message = _error(tmp_path, {"abseiling": ["a"], "1": ["b"], "-2": ["c"]})
    assert "keys must be class indices" in message and "'abseiling'" in message and "'-2'" in message
    assert "class-name file" in message


def test_duplicate_keys(tmp_path):
    message = _error(tmp_path, '{"0": ["a"], "1": ["b"], "1": ["c"]}')
    assert "key '1' appears twice" in message
    message = _error(tmp_path, {"0": ["a"], "1": ["b"], "01": ["c"], "2": ["d"]})
    assert "'1' and '01' are the same class index" in message


def test_missing_classes_are_listed_and_truncated(tmp_path):
    message = _error(tmp_path, {"0": ["a"], "5": ["b"]}, num_classes=30)
    assert "no entry for 28 of 30 class indices" in message
    assert "1, 2, 3, 4, 6, 7, 8, 9, 10, 11 ... and 18 more" in message and "Add an entry for every class" in message


def test_missing_class_without_num_classes(tmp_path):
    message = _error(tmp_path, {"0": ["a"], "2": ["c"]}, num_classes=None)
    assert "no entry for 1 of 3 class indices: 1" in message


def test_extra_indices(tmp_path):
    message = _error(tmp_path, {**OST_SPATIAL, "3": ["x"], "7": ["y"]})
    assert "class indices 3, 7 beyond the 3 classes (0..2)" in message and "written for this vocabulary" in message


def test_empty_object_list_and_string(tmp_path):
    assert "empty object" in _error(tmp_path, {}, num_classes=None)
    message = _error(tmp_path, {**OST_SPATIAL, "1": []})
    assert "class 1 has an empty list" in message and "at least one descriptor" in message
    message = _error(tmp_path, {**OST_SPATIAL, "2": ["car", "  "]})
    assert "class 2, item 1 is an empty string" in message
    message = _error(tmp_path, {**FROSTER, "0": ""}, format="froster", kind=None)
    assert "class 0 has an empty description" in message


def test_wrong_types(tmp_path):
    assert "class 1, item 0 is a number, not a string" in _error(tmp_path, {**OST_SPATIAL, "1": [3]})
    message = _error(tmp_path, {**OST_SPATIAL, "0": "climber"})
    assert "class 0 holds a single string" in message and "format='froster'" in message
    message = _error(tmp_path, OST_SPATIAL, format="froster", kind=None)
    assert "class 0 holds a list" in message and "format='msta' or format='ost'" in message
    assert "class 0 holds an object" in _error(tmp_path, {**OST_SPATIAL, "0": {"a": 1}})


def test_wrong_counts(tmp_path):
    content = {**OST_SPATIAL, "1": ["ski ramp", "snow"], "2": ["car"] * 5}
    message = _error(tmp_path, content, expected_per_class=4)
    assert "2 class(es) do not have 4 spatial descriptors: class (count) 1 (2), 2 (5)" in message
    assert "Give every class exactly 4" in message


def test_froster_entry_needs_name_prefix(tmp_path):
    message = _error(tmp_path, {**FROSTER, "1": "A skier jumps off a ramp"}, format="froster", kind=None)
    assert "class 1 entry 'A skier jumps off a ramp' is not 'Name: description'" in message


def test_froster_names_must_match_class_names(tmp_path):
    swapped = {"0": FROSTER["1"], "1": FROSTER["0"], "2": FROSTER["2"]}
    message = _error(tmp_path, swapped, format="froster", kind=None, class_names=NAMES)
    assert "2 entry name(s) do not match the class names" in message
    assert "class 0: entry 'Ski jumping' for class name 'abseiling'" in message
    assert "another class order" in message
    # Case, articles, hyphens and spaces do not count ("Skiing cross-country" ~ "skiing crosscountry").
    names = ["ABSEILING", "ski-jumping", "driving car"]
    assert load_descriptions(_write(tmp_path, "ok.json", FROSTER), format="froster", class_names=names)


def test_argument_conflicts(tmp_path):
    path = _write(tmp_path, "d.json", FROSTER)
    with pytest.raises(ValueError, match="num_classes=4 but 3 class names"):
        load_descriptions(path, 4, format="froster", class_names=NAMES)
    with pytest.raises(ValueError, match="one description per class; expected_per_class=2"):
        load_descriptions(path, format="froster", expected_per_class=2)
    with pytest.raises(ValueError, match="Unknown description format 'etl'"):
        load_descriptions(path, format="etl")
    with pytest.raises(FileNotFoundError, match="generate_descriptors.py"):
        load_descriptions(tmp_path / "missing.json", format="froster")


def test_non_utf8(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes('{"0": ["caf\xe9"]}'.encode("latin-1"))
    with pytest.raises(ValueError, match=rf"{path}.*not UTF-8"):
        load_descriptions(path, format="ost", kind="spatial")


def test_save_refuses_bad_content(tmp_path):
    bad = ClassDescriptions([["ok"], [""]], "ost", "spatial")
    with pytest.raises(ValueError, match=r"out.json: class 1, item 0 is an empty string"):
        save_descriptions(bad, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


# --------------------------------------------------------------------------------------------------- prompts


def test_ost_prompts_match_the_official_code(tmp_path):
    spatial = load_descriptions(_write(tmp_path, "s.json", OST_SPATIAL), format="ost", kind="spatial")
    temporal = load_descriptions(_write(tmp_path, "t.json", OST_TEMPORAL), format="ost", kind="temporal")
    assert OST_SPATIAL_TEMPLATE == "This is a video about {des}"
    assert OST_TEMPORAL_TEMPLATE == "A video of {cls} usually includes {des}"
    prompts = descriptor_prompts(spatial, NAMES, kind="spatial")
    assert len(prompts) == 3 and prompts[1][0] == "This is a video about ski ramp"
    prompts = descriptor_prompts(temporal, NAMES, kind="temporal")
    assert prompts[1] == [f"A video of ski jumping usually includes {step}" for step in OST_TEMPORAL["1"]]
    with pytest.raises(ValueError, match="need the class names"):
        descriptor_prompts(temporal)
    with pytest.raises(ValueError, match="holds spatial ost descriptions; load the temporal file"):
        descriptor_prompts(spatial, NAMES, kind="temporal")
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        descriptor_prompts(spatial, NAMES[:2])


def test_msta_prompts_are_the_sentences(tmp_path):
    spatial = load_descriptions(_write(tmp_path, "spatial.json", MSTA), format="msta", expected_per_class=2)
    assert descriptor_prompts(spatial, NAMES) == list(MSTA.values())
    with pytest.raises(ValueError, match="FROSTER descriptions only"):
        descriptor_prompts(spatial, NAMES, templates=["a video of {}."])


def test_froster_prompts_follow_the_official_code(tmp_path):
    froster = load_descriptions(_write(tmp_path, "f.json", FROSTER), format="froster", class_names=NAMES)
    prompts = descriptor_prompts(froster, NAMES)
    assert len(prompts[0]) == len(KINETICS_TEMPLATES)
    # template(name before ":") + " " + whole entry, as in temporalclip_video_model.py's text_prompt
    assert prompts[2][0] == f"a photo of Driving a car. {FROSTER['2']}"
    prompts = descriptor_prompts(froster, templates="a video of {}.", include_bare=True)
    assert prompts[0] == [f"a video of Abseiling. {FROSTER['0']}", FROSTER["0"]]
    assert froster.one_per_class() == list(FROSTER.values())
    assert froster.entry_names() == ["Abseiling", "Ski jumping", "Driving a car"]
    with pytest.raises(ValueError, match="one '\\{\\}' each"):
        descriptor_prompts(froster, templates=["a video"])


def test_select_sub_vocabulary(tmp_path):
    spatial = load_descriptions(_write(tmp_path, "s.json", OST_SPATIAL), format="ost", kind="spatial",
                                class_names=NAMES)
    novel = spatial.select(["driving car", "abseiling"])
    assert novel.per_class == [OST_SPATIAL["2"], OST_SPATIAL["0"]] and novel.class_names == ["driving car", "abseiling"]
    with pytest.raises(ValueError, match="no descriptions for 1 class\\(es\\): juggling"):
        spatial.select(["juggling"])
    with pytest.raises(ValueError, match="one_per_class` needs exactly one"):
        spatial.one_per_class()


# ----------------------------------------------------------------------------------------------- class names


@pytest.mark.parametrize("name, content", [
    ("names.txt", "abseiling\nski jumping\n\nApplyEyeMakeup\n"),
    ("names.json", json.dumps(["abseiling", "ski jumping", "ApplyEyeMakeup"])),
    ("names.json", json.dumps({"1": "ski jumping", "0": "abseiling", "2": "ApplyEyeMakeup"})),
    ("names.csv", "id,name\n0,abseiling\n2,ApplyEyeMakeup\n1,ski jumping\n"),
    ("names.csv", "0,abseiling\n1,ski jumping\n2,ApplyEyeMakeup\n"),
    ("names.tsv", "name\tid\nabseiling\t0\nski jumping\t1\nApplyEyeMakeup\t2\n"),
])
def test_load_class_names(tmp_path, name, content):
    assert load_class_names(_write(tmp_path, name, content)) == ["abseiling", "ski jumping", "apply eye makeup"]


def test_bad_class_name_files(tmp_path):
    with pytest.raises(ValueError, match=r"names.json is not valid JSON: .* line 1, column"):
        load_class_names(_write(tmp_path, "names.json", '{"0": "a",}'))
    with pytest.raises(ValueError, match=r"names.csv: the header .* needs the columns 'id' and 'name'"):
        load_class_names(_write(tmp_path, "names.csv", "index,label\n0,a\n"))
    with pytest.raises(ValueError, match=r"names.csv: class ids must run 0..2 without gaps; missing 1"):
        load_class_names(_write(tmp_path, "names.csv", "id,name\n0,a\n2,b\n"))
    with pytest.raises(ValueError, match=r"names.csv: class id 0 appears twice"):
        load_class_names(_write(tmp_path, "names.csv", "id,name\n0,a\n0,b\n"))
    with pytest.raises(ValueError, match=r"names.csv: row 2 .* is not 'id,name'"):
        load_class_names(_write(tmp_path, "names.csv", "id,name\n0,a\nx,b\n"))
    with pytest.raises(ValueError, match=r"names.csv: repeats class names \['a'\]"):
        load_class_names(_write(tmp_path, "names.csv", "id,name\n0,a\n1,A\n"))
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        load_class_names(tmp_path / "nowhere.txt")
