"""`--class_descriptions` for every method (TACO Table 1(f): FROSTER's rephrased descriptions with Open-VCLIP's
weight ensembling), FROSTER's warning without them, and OST's shipped descriptors used by default."""

import json
import logging

import pytest
import torch
from datasets import ClassLabel, Features, Value
from safetensors.torch import load_file

from hfvideoclip import VideoClipModel
from hfvideoclip.text.class_embeddings import class_bank
from hfvideoclip.text.templates import SINGLE_TEMPLATE


def _rephrased(tmp_path, names):
    """A tiny FROSTER-format file for the toy classes, in the other index order and capitalised (matched by name)."""
    path = tmp_path / "toy_rephrased_classes.json"
    entries = {str(i): f"{name.capitalize()}: a shape slides across a dark frame"
               for i, name in enumerate(reversed(names))}
    path.write_text(json.dumps(entries))
    return path


def test_taco_with_class_descriptions_and_patch_alpha(clip_dir, dataset, tmp_path, build):
    """TACO Table 1(f): the rephrased descriptions change the class bank; the export is alpha * fine-tuned +
    (1 - alpha) * zero-shot."""
    names = list(dataset.features["label"].names)
    path = _rephrased(tmp_path, names)
    alpha = 0.3
    trainer = build(tmp_path / "run", "taco", clip_dir, dataset, max_steps=2, learning_rate=0.05,
                    class_descriptions=str(path), patch_alpha=alpha)
    objective = trainer.model
    texts = objective.class_texts
    assert texts.has_descriptions
    ids, _ = texts.ensemble()
    assert ids.shape[1] == len(SINGLE_TEMPLATE) + 1  # every template with the description, then the bare entry
    plain = build(tmp_path / "plain", "taco", clip_dir, dataset, max_steps=2)
    with torch.no_grad():
        with_descriptions = objective.student.get_class_embeddings(*texts.ensemble())
        templates_only = plain.model.student.get_class_embeddings(*plain.model.class_texts.ensemble())
    assert not torch.allclose(with_descriptions, templates_only, atol=1e-4)

    trainer.train()
    fine_tuned = {k: v.detach().clone() for k, v in objective.student.state_dict().items()}
    zero_shot = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=4).state_dict()
    trainer.save_model(str(tmp_path / "export"))
    exported = load_file(tmp_path / "export" / "model.safetensors")
    changed = [k for k in exported if k in zero_shot and exported[k].is_floating_point()
               and not torch.equal(fine_tuned[k], zero_shot[k])]
    assert changed  # training moved the weights
    for key in changed:
        torch.testing.assert_close(exported[key], alpha * fine_tuned[key] + (1 - alpha) * zero_shot[key],
                                   atol=1e-6, rtol=1e-5)

    model = VideoClipModel.from_pretrained(tmp_path / "export").eval()
    from hfvideoclip import VideoClipProcessor

    tokenizer = VideoClipProcessor.from_pretrained(tmp_path / "export").tokenizer
    described = class_bank(model, tokenizer, names, SINGLE_TEMPLATE, class_descriptions=str(path))
    assert not torch.allclose(described, class_bank(model, tokenizer, names, SINGLE_TEMPLATE), atol=1e-4)


def test_every_method_but_ost_takes_class_descriptions(clip_dir, dataset, tmp_path, build):
    path = _rephrased(tmp_path, list(dataset.features["label"].names))
    for method in ("ce", "open_vclip", "froster", "open_mede", "msta"):
        trainer = build(tmp_path / method, method, clip_dir, dataset, class_descriptions=str(path))
        assert trainer.model.class_texts.has_descriptions, method
    with pytest.raises(ValueError, match="--class_descriptions does not apply to --method ost"):
        build(tmp_path / "ost", "ost", clip_dir, dataset, class_descriptions=str(path))


def test_froster_without_descriptions_warns_once_naming_the_flag(clip_dir, dataset, tmp_path, build, caplog):
    with caplog.at_level(logging.WARNING, logger="hfvideoclip.methods.froster.objective"):
        build(tmp_path / "plain", "froster", clip_dir, dataset)
    warnings = [r.getMessage() for r in caplog.records if "published recipe" in r.getMessage()]
    assert len(warnings) == 1 and "--class_descriptions" in warnings[0]
    caplog.clear()
    path = _rephrased(tmp_path, list(dataset.features["label"].names))
    with caplog.at_level(logging.WARNING, logger="hfvideoclip.methods.froster.objective"):
        build(tmp_path / "described", "froster", clip_dir, dataset, class_descriptions=str(path))
    assert not [r for r in caplog.records if "published recipe" in r.getMessage()]


def test_unmatched_training_class_is_an_error_naming_file_class_and_fix(clip_dir, dataset, tmp_path, build):
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"0": "Red circle moving left: a red disc slides left"}))
    with pytest.raises(ValueError, match=r"partial.json: no entry for class 'blue square moving right'; add"):
        build(tmp_path, "ce", clip_dir, dataset, class_descriptions=str(path))


def test_ost_uses_the_published_descriptors_by_default(clip_dir, dataset, tmp_path, build):
    """HMDB-51 classes get OST's published descriptors (matched by name; HMDB indices in sorted order)."""
    hmdb = dataset.cast(Features({"video": Value("string"), "label": ClassLabel(names=["kick ball", "Sword"])}))
    trainer = build(tmp_path / "run", "ost", clip_dir, hmdb, max_steps=1)
    table = trainer.model.descriptor_table
    assert table["kick ball"]["spatial"] == ["soccer ball", "kicking motion", "athlete", "soccer field"]
    assert table["Sword"]["spatial"] == ["sword", "blade", "weapon", "sharp"]
    fallback = build(tmp_path / "off", "ost", clip_dir, hmdb, max_steps=1, official_descriptors=False)
    assert fallback.model.descriptor_table is None


def test_froster_description_file_is_the_shared_flag_for_training_and_final_evaluation(tmp_path):
    """`--description_file` (FROSTER's older flag) sets `--class_descriptions`, which the recipe's vocabulary check
    and the final evaluation read: training and evaluation use the same prompts."""
    from hfvideoclip.training.recipe import parse_args

    path = tmp_path / "k400_rephrased_classes.json"
    path.write_text(json.dumps({"0": "Abseiling: a person descends a rock face on a rope."}))
    parsed = parse_args(["--method", "froster", "--description_file", str(path), "--output_dir", str(tmp_path)])
    assert parsed.training.class_descriptions == str(path)
    other = tmp_path / "ucf101_rephrased_classes.json"
    other.write_text(path.read_text())
    with pytest.raises(ValueError, match="both given"):
        parse_args(["--method", "froster", "--description_file", str(path), "--class_descriptions", str(other),
                    "--output_dir", str(tmp_path)])
