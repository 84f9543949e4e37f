"""The msta and ost methods end to end (train, export, reload, score) and LoRA's adapter-alone export, on the tiny
CLIP of conftest; the losses against direct computations of their equations."""

import json
import os

import pytest
import torch
import torch.nn.functional as F

import hfvideoclip  # noqa: F401
from hfvideoclip.loading import load_video_clip_model
from hfvideoclip.methods.msta.loss import consistency_loss
from hfvideoclip.methods.ost.loss import ost_contrastive_loss


def pixels_of(trainer, dataset, count=4):
    collator = trainer.data_collator
    batch = collator([dataset[i] for i in range(count)])
    return batch["pixel_values_videos"], batch["labels"]


def test_consistency_loss_is_two_minus_the_two_cosines_averaged_over_classes():
    torch.manual_seed(0)
    w, spatial, temporal = torch.randn(3, 8), torch.randn(3, 2, 8), torch.randn(3, 4, 8)
    expected = 0.0
    for c in range(3):
        mean_s = sum(spatial[c, n] / spatial[c, n].norm() for n in range(2)) / 2
        mean_t = sum(temporal[c, n] / temporal[c, n].norm() for n in range(4)) / 4
        cos_s = (w[c] @ mean_s) / (w[c].norm() * mean_s.norm())
        cos_t = (w[c] @ mean_t) / (w[c].norm() * mean_t.norm())
        expected += (2 - cos_s - cos_t) / 3
    assert consistency_loss(w, spatial, temporal).item() == pytest.approx(expected.item(), abs=1e-6)
    assert consistency_loss(spatial.mean(1), spatial, spatial).item() < consistency_loss(w, spatial, spatial).item()
    with pytest.raises(ValueError, match="one set per class"):
        consistency_loss(w, spatial[:2], temporal)


def test_ost_loss_equals_the_batch_contrastive_loss_over_all_class_logits(clip_dir, dataset, tmp_path, build):
    """The objective embeds each distinct label's descriptors once: its loss equals OST's (B, B) loss computed from
    the logits against every class's descriptors, as the official code computes it per video."""
    trainer = build(tmp_path, "ost", clip_dir, dataset, max_steps=1)
    objective = trainer.model
    assert objective.student.config.scoring_head == "optimal_descriptor"
    pixels, labels = pixels_of(trainer, dataset)
    terms = objective(pixels, labels)
    with torch.no_grad():
        video, frames = objective.student.get_video_features(pixel_values_videos=pixels, return_frame_embeds=True)
        bank = objective.descriptor_bank(torch.arange(2))
        all_logits = objective.student.compute_logits(video, bank, frame_embeds=frames)  # (B, C)
        expected = ost_contrastive_loss(all_logits, labels)
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_ost_trains_exports_descriptors_and_scores_with_its_head(clip_dir, dataset, tmp_path, build):
    from transformers import pipeline

    trainer = build(tmp_path / "run", "ost", clip_dir, dataset, max_steps=2, patch_alpha=0.8)
    trainer.train()
    trainer.save_model(str(tmp_path / "export"))
    table = json.loads((tmp_path / "export" / "descriptors.json").read_text())
    assert set(table) == set(dataset.features["label"].names) and all(len(v["spatial"]) == 4 for v in table.values())
    model = load_video_clip_model(tmp_path / "export")
    assert model.config.scoring_head == "optimal_descriptor"
    clf = pipeline("zero-shot-video-classification", model=str(tmp_path / "export"))
    labels = list(dataset.features["label"].names)
    by_folder = clf(dataset["video"][0], candidate_labels=labels)
    own = {labels[0]: {"spatial": ["red things"] * 4, "temporal": ["it moves"] * 4},
           labels[1]: {"spatial": ["blue things"] * 4, "temporal": ["it turns"] * 4}}
    custom = clf(dataset["video"][0], candidate_labels=labels, descriptors=own)
    assert abs(sum(r["score"] for r in by_folder) - 1) < 1e-5
    assert [r["score"] for r in custom] != [r["score"] for r in by_folder]  # the descriptors given are used
    (tmp_path / "own.json").write_text(json.dumps(own))
    from_file = clf(dataset["video"][0], candidate_labels=labels, descriptors=str(tmp_path / "own.json"))
    assert [r["score"] for r in from_file] == pytest.approx([r["score"] for r in custom])
    with pytest.raises(ValueError, match="spatial"):
        clf(dataset["video"][0], candidate_labels=labels, descriptors={labels[0]: {"temporal": ["x"]}})


@pytest.mark.parametrize("adaptation", ["msta", "adapter"])
def test_msta_method_trains_only_adapters_and_the_export_reloads_them(clip_dir, dataset, tmp_path, build,
                                                                      adaptation):
    from hfvideoclip.adapters.msta import MstaModel

    trainer = build(tmp_path / "run", "msta", clip_dir, dataset, adaptation=adaptation, max_steps=2, msta_dim=8,
                    msta_scale=0.5)
    student = trainer.model.student
    assert isinstance(student, MstaModel)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    assert trainable == MstaModel.expected_trainable_parameters(student.config, student.msta_config)
    before = {n: p.detach().clone() for n, p in student.named_parameters()}
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "consistency" in entry]
    assert logged and all(0 <= entry["consistency"] <= 4 for entry in logged)
    changed = {n for n, p in student.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(("adapter" in n or "msta_shared" in n) for n in changed)
    trainer.save_model(str(tmp_path / "export"))
    assert os.path.isfile(tmp_path / "export" / "msta" / "adapter_model.safetensors")
    reloaded = load_video_clip_model(tmp_path / "export")
    assert isinstance(reloaded, MstaModel)
    pixels, _ = pixels_of(trainer, dataset)
    student.eval()
    with torch.no_grad():
        assert torch.allclose(reloaded.get_video_features(pixel_values_videos=pixels),
                              student.get_video_features(pixel_values_videos=pixels), atol=1e-5)
        with reloaded.disable_adapter():
            base = reloaded.get_video_features(pixel_values_videos=pixels)
        assert not torch.allclose(base, student.get_video_features(pixel_values_videos=pixels), atol=1e-6)


def test_msta_descriptions_go_through_the_frozen_branch(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "msta", clip_dir, dataset, adaptation="msta", msta_dim=8, msta_scale=0.5)
    objective = trainer.model
    with torch.no_grad():
        for block in objective.student.base_model.text_model.encoder.layers:  # make the adapters matter
            if hasattr(block, "adapter"):
                for p in block.adapter.parameters():
                    p.add_(0.5)
        described = objective.description_embeddings()
        with objective.student.disable_adapter():
            plain = objective.student.get_text_features(*_tokens(objective, objective._descriptions["spatial"]))
        adapted = objective.student.get_text_features(*_tokens(objective, objective._descriptions["spatial"]))
    flat = described["spatial"].flatten(0, 1)
    assert torch.allclose(flat, plain.float(), atol=1e-5) and not torch.allclose(flat, adapted.float(), atol=1e-4)


def _tokens(objective, per_class):
    flat = [text for texts in per_class for text in texts]
    tokens = objective.class_texts.tokenizer(flat, padding=True, truncation=True, return_tensors="pt")
    return tokens["input_ids"], tokens["attention_mask"]


def test_lora_export_also_writes_the_peft_adapter_alone(clip_dir, dataset, tmp_path, build):
    from peft import PeftModel

    trainer = build(tmp_path / "run", "ce", clip_dir, dataset, adaptation="lora", max_steps=2, learning_rate=5e-2)
    trainer.train()
    trainer.save_model(str(tmp_path / "export"))
    merged = load_video_clip_model(tmp_path / "export").eval()
    assert os.path.isfile(tmp_path / "export" / "adapter" / "adapter_config.json")
    base = load_video_clip_model(clip_dir, num_frames=4)
    adapted = PeftModel.from_pretrained(base, str(tmp_path / "export" / "adapter")).eval()
    pixels, _ = pixels_of(trainer, dataset)
    with torch.no_grad():
        expected = merged.get_video_features(pixel_values_videos=pixels)
        got = adapted.get_video_features(pixel_values_videos=pixels)
        plain = load_video_clip_model(clip_dir, num_frames=4).get_video_features(pixel_values_videos=pixels)
    assert torch.allclose(F.normalize(got, dim=-1), F.normalize(expected, dim=-1), atol=1e-5)
    assert not torch.allclose(F.normalize(plain, dim=-1), F.normalize(expected, dim=-1), atol=1e-4)


def test_lora_battery_save_load_disable_merge_and_count(clip_dir, tmp_path):
    """The tuner battery for LoRA (peft): trainable count r (in + out) per adapted linear, zero B leaves the
    outputs unchanged, disable_adapter gives the base, merge gives the adapted outputs, save/load round trips."""
    from peft import LoraConfig, PeftModel, get_peft_model

    pixels = torch.rand(2, 4, 3, 16, 16)
    base = load_video_clip_model(clip_dir, num_frames=4).eval()
    with torch.no_grad():
        reference = base.get_video_features(pixel_values_videos=pixels)
    model = get_peft_model(load_video_clip_model(clip_dir, num_frames=4),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"])).eval()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    targets = [m for n, m in model.base_model.model.named_modules()
               if n.endswith(("q_proj", "v_proj")) and hasattr(m, "base_layer")]
    assert trainable == sum(2 * (m.base_layer.in_features + m.base_layer.out_features) for m in targets)
    with torch.no_grad():
        assert torch.allclose(model.get_video_features(pixel_values_videos=pixels), reference, atol=1e-6)  # B = 0
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)
        adapted = model.get_video_features(pixel_values_videos=pixels)
        assert not torch.allclose(adapted, reference, atol=1e-4)
        with model.disable_adapter():
            assert torch.allclose(model.get_video_features(pixel_values_videos=pixels), reference, atol=1e-6)
    model.save_pretrained(tmp_path / "lora")
    reloaded = PeftModel.from_pretrained(load_video_clip_model(clip_dir, num_frames=4), str(tmp_path / "lora")).eval()
    with torch.no_grad():
        assert torch.allclose(reloaded.get_video_features(pixel_values_videos=pixels), adapted, atol=1e-5)
        merged = reloaded.merge_and_unload()
        assert torch.allclose(merged.get_video_features(pixel_values_videos=pixels), adapted, atol=1e-5)
    assert not any("lora" in key for key in merged.state_dict())


def test_ost_with_a_frozen_text_tower_embeds_the_descriptors_once(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "ost", clip_dir, dataset, adaptation="frozen_text", max_steps=1)
    objective = trainer.model
    calls = []
    original = objective.student.get_descriptor_embeddings
    objective.student.get_descriptor_embeddings = lambda *a, **k: calls.append(1) or original(*a, **k)
    pixels, labels = pixels_of(trainer, dataset)
    first = objective(pixels, labels)["loss"]
    second = objective(pixels, labels)["loss"]
    assert len(calls) == 2  # spatial + temporal, once
    assert first.item() == pytest.approx(second.item())
    full = objective.descriptor_bank(torch.arange(2))
    with torch.no_grad():
        direct = original(objective.spatial_input_ids, objective.spatial_attention_mask)
    assert torch.allclose(full.spatial, direct)
