"""`--class_descriptions`: FROSTER's rephrased class files matched by name, and its test-time prompts held to the
official code (Visual-AI/FROSTER at 230ae8831b352bec80f5e8695691282198ca2ab2)."""

import json

import pytest
import torch
import torch.nn.functional as F

from hfvideoclip.data.benchmarks import SHIPPED_SPLITS_DIR, read_published_classes
from hfvideoclip.evaluation.cli import main as evaluate_main
from hfvideoclip.text.class_descriptions import (
    description_prompts,
    match_class_descriptions,
    read_class_descriptions,
)
from hfvideoclip.text.templates import KINETICS_TEMPLATES

# The Kinetics-400 classes whose name in kinetics_400_labels.csv differs (beyond case) from the prefix of FROSTER's
# label_rephrase/k400_rephrased_classes.json entry: (class id, our name, FROSTER's prefix).
K400_DIFFERENCES = [
    (14, "barbequing", "Barbecuing"),
    (103, "driving car", "Driving a car"),
    (104, "driving tractor", "Driving a tractor"),
    (109, "eating burger", "Eating a burger"),
    (140, "giving or receiving award", "Giving or receiving an award"),
    (308, "skiing (not slalom or crosscountry)", "Skiing (not slalom or cross-country)"),
    (309, "skiing crosscountry", "Skiing cross-country"),
    (340, "swimming breast stroke", "Swimming breaststroke"),
]

# FROSTER slowfast/models/temporalclip_video_model.py, text_prompt (lines 326-390): text_aug, 28 templates + '{}'.
OFFICIAL_TEXT_AUG = [f"a {kind} of {middle}{{}}." for kind in ("photo", "video", "example", "demonstration")
                     for middle in ("", "a person ", "a person using ", "a person doing ", "a person during ",
                                    "a person performing ", "a person practicing ")] + ["{}"]


def official_prompts(entry: str) -> list[str]:
    """The same file, lines 382-388 at test time (all of text_aug): the last ('{}') filled with the whole entry,
    every other template with `entry.split(':')[0]` followed by ' ' + entry."""
    last = len(OFFICIAL_TEXT_AUG) - 1
    return [txt.format(entry) if idx == last else txt.format(entry.split(":")[0]) + " " + entry
            for idx, txt in enumerate(OFFICIAL_TEXT_AUG)]


def _write(path, entries):
    path.write_text(json.dumps({str(i): entry for i, entry in enumerate(entries)}))
    return path


def test_kinetics_names_match_the_rephrased_prefixes(tmp_path):
    names = read_published_classes(SHIPPED_SPLITS_DIR / "vifi_clip" / "labels" / "kinetics_400_labels.csv")
    assert [(i, names[i]) for i, _, _ in K400_DIFFERENCES] == [(i, name) for i, name, _ in K400_DIFFERENCES]
    prefixes = [prefix for _, _, prefix in K400_DIFFERENCES]
    path = _write(tmp_path / "k400.json", [f"{p}: described." for p in reversed(prefixes)])  # another order
    entries = match_class_descriptions([name for _, name, _ in K400_DIFFERENCES], path)
    assert [entry.split(":")[0] for entry in entries] == prefixes


def test_word_order_is_the_last_resort(tmp_path):
    path = _write(tmp_path / "d.json", ["Cross-country skiing: on snow", "Abseiling: down a rock"])
    assert match_class_descriptions(["skiing crosscountry", "abseiling"], path) == [
        "Cross-country skiing: on snow", "Abseiling: down a rock"]


def test_an_unmatched_class_names_the_file_the_class_and_the_fix(tmp_path):
    path = _write(tmp_path / "k400.json", ["Abseiling: down a rock"])
    with pytest.raises(ValueError, match=r"k400.json: no entry for class 'air drumming'; add '\"<index>\": "
                                         r"\"<class name>: <description>\"' for it, or pass the file written"):
        match_class_descriptions(["abseiling", "air drumming"], path)


def test_each_vocabulary_takes_the_file_written_for_it(tmp_path):
    """FROSTER describes 'Punch' differently for HMDB-51 and UCF-101: a folder (or comma list) of files gives each
    vocabulary the smallest file that describes all of it; other JSON files in the folder are skipped."""
    _write(tmp_path / "hmdb_rephrased_classes.json", ["Punch: hmdb punch", "Kick: hmdb kick"])
    _write(tmp_path / "ucf101_rephrased_classes.json", ["Punch: ucf punch", "Fencing: ucf fencing", "Kick: ucf kick"])
    (tmp_path / "k400_index2cls.json").write_text(json.dumps({"0": "abseiling"}))  # not a FROSTER file
    assert match_class_descriptions(["punch", "kick"], tmp_path) == ["Punch: hmdb punch", "Kick: hmdb kick"]
    assert match_class_descriptions(["fencing", "punch"], tmp_path)[1] == "Punch: ucf punch"
    both = f"{tmp_path / 'ucf101_rephrased_classes.json'},{tmp_path / 'hmdb_rephrased_classes.json'}"
    assert match_class_descriptions(["kick"], both) == ["Kick: hmdb kick"]
    with pytest.raises(FileNotFoundError, match="--class_descriptions .*missing.json: no such file or folder"):
        read_class_descriptions(tmp_path / "missing.json")


def test_prompts_are_the_official_formula():
    entry = "Driving a car: In this video, a person drives a car"
    prompts = description_prompts([entry], KINETICS_TEMPLATES)
    assert prompts == [official_prompts(entry)] and len(prompts[0]) == 29
    assert prompts[0][0] == "a photo of Driving a car. " + entry and prompts[0][-1] == entry


def test_class_bank_is_the_renormalised_mean_of_the_29_normalised_prompts(tmp_path):
    """FROSTER achieve_csf_matrix (lines 392-405): each prompt embedding / its norm, mean over the 29, / its norm."""
    from hfvideoclip.evaluation.cli import load_model_and_processor
    from hfvideoclip.text.class_embeddings import class_bank
    from hfvideoclip.toy import toy_clip_path

    model, processor = load_model_and_processor(str(toy_clip_path()))
    tokenizer = processor.tokenizer
    names = ["red circle", "blue square"]
    entries = ["Red circle: a red circle moving left", "Blue square: a blue square moving right"]
    path = _write(tmp_path / "toy.json", entries)
    got = class_bank(model, tokenizer, names, KINETICS_TEMPLATES, class_descriptions=str(path))
    expected = []
    with torch.no_grad():
        for entry in entries:
            tokens = tokenizer(official_prompts(entry), padding=True, truncation=True, return_tensors="pt")
            features = model.get_text_features(tokens["input_ids"], tokens["attention_mask"]).float()
            features = features / features.norm(dim=-1, keepdim=True)
            mean = features.mean(0)
            expected.append(mean / mean.norm())
    torch.testing.assert_close(got, torch.stack(expected), atol=1e-5, rtol=1e-5)
    templates_only = class_bank(model, tokenizer, names, KINETICS_TEMPLATES)
    assert (1 - F.cosine_similarity(got, templates_only, dim=-1)).min() > 1e-4


def test_evaluate_cli_has_the_flag_and_checks_the_path_first(tmp_path, capsys):
    code = evaluate_main(["--class_descriptions", str(tmp_path / "missing.json"), "--output_dir", str(tmp_path)])
    assert code == 2
    assert "--class_descriptions" in capsys.readouterr().err
