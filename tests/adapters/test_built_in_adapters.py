"""MSTA / adapter weights as part of the model (`config.adapter`, `bottleneck_adapters.py`): the export of an `msta` or
`adapter` run loads by Hub id from an offline cache in a process where `hfvideoclip` cannot be imported
(`AutoModel`, `AutoProcessor`, `pipeline(..., trust_remote_code=True)`) with the package's scores; the tuner
(`MstaModel`) and the built-in form convert into each other exactly; the pipeline takes the assembled model as it is."""

import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import pipeline

from hfvideoclip import VideoClipConfig, VideoClipModel, VideoClipProcessor
from hfvideoclip.adapters import get_adaptation, load_saved_adapter
from hfvideoclip.adapters.msta import MstaConfig, MstaModel, get_msta_model
from hfvideoclip.loading import load_video_clip_model
from hfvideoclip.toy import toy_clip_path

TOY_CLIP = toy_clip_path()
TASK = "zero-shot-video-classification"
LABELS = ["red circle", "blue square", "green triangle"]
TEXT = dict(hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=99,
            max_position_embeddings=16, bos_token_id=97, eos_token_id=98, pad_token_id=0)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4, image_size=16,
              patch_size=4)
VARIANTS = {"msta": dict(), "adapter": dict(shared_projection=False, mid_projection=False, temporal=False),
            "unshared": dict(shared_projection=False), "vision": dict(towers="vision"),
            "text": dict(towers="text", start_layer=2), "layers_2_2": dict(start_layer=2, end_layer=2)}


def randomize(model, seed=3, std=0.3):
    """Adapters that change the outputs a lot (fresh ones are close to the identity at a small scale)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".adapter." in name or name.startswith("msta_shared."):
                param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def tiny_base(mode):
    torch.manual_seed(0)
    config = VideoClipConfig(text_config=TEXT, vision_config=VISION, projection_dim=16, temporal_mode=mode,
                             num_frames=4)
    return VideoClipModel(config).eval()


def features(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randn(2, 4, 3, 16, 16, generator=generator)
    ids = torch.randint(1, 97, (3, 6), generator=generator)
    with torch.no_grad():
        return model.get_video_features(pixel_values_videos=pixels), model.get_text_features(ids)


@pytest.mark.parametrize("mode", ["viclip", "mean"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_built_in_adapters_compute_the_tuners_outputs_and_convert_back(mode, variant, tmp_path):
    tuner = randomize(get_msta_model(tiny_base(mode), MstaConfig(dim=8, scale=0.5, **VARIANTS[variant]))).eval()
    expected = features(tuner)
    built_in = tuner.to_video_clip_model()
    assert type(built_in) is VideoClipModel and built_in.config.adapter["dim"] == 8
    assert built_in.config.adapter["type"] == ("adapter" if variant == "adapter" else "msta")
    for got, want in zip(features(built_in), expected):
        torch.testing.assert_close(got, want, atol=0, rtol=0)
    with tuner.disable_adapter():
        assert not torch.allclose(features(tuner)[0], expected[0], atol=1e-4) or variant == "text"

    built_in.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    adapter_keys = {k for k in tensors if ".adapter." in k or k.startswith("msta_shared.")}
    assert adapter_keys == {k.removeprefix("base_model.") for k in tuner.adapter_state_dict()}
    assert set(tensors) - adapter_keys == set(tiny_base(mode).state_dict())  # the base keys as in a plain model
    reloaded = VideoClipModel.from_pretrained(tmp_path).eval()
    for got, want in zip(features(reloaded), expected):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)

    wrapped = MstaModel.from_video_clip_model(reloaded)
    assert wrapped.msta_config.to_model_adapter() == MstaConfig(dim=8, scale=0.5, **VARIANTS[variant]).to_model_adapter()
    assert reloaded.config.adapter is None and not any(p.requires_grad for p in wrapped.parameters())
    for got, want in zip(features(wrapped), expected):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_a_model_with_built_in_adapters_is_not_wrapped_again():
    built_in = get_msta_model(tiny_base("viclip"), MstaConfig(dim=8)).to_video_clip_model()
    with pytest.raises(ValueError, match=r"built in \(config.adapter\).*from_video_clip_model"):
        get_msta_model(built_in, MstaConfig(dim=8))
    assert load_saved_adapter(built_in, "/nonexistent") is built_in
    with pytest.raises(ValueError, match="no built-in adapters"):
        MstaModel.from_video_clip_model(tiny_base("mean"))


@pytest.mark.parametrize("adapter, message", [
    ("msta", "must be a dict"),
    ({"type": "msta"}, "lacks .*dim.*config.json"),
    ({**MstaConfig(dim=8).to_model_adapter(), "type": "lora"}, "type 'lora' is not supported"),
    ({**MstaConfig(dim=8).to_model_adapter(), "extra": 1}, "unknown \\['extra'\\]"),
])
def test_invalid_adapter_field_is_one_line_naming_config_json(adapter, message):
    with pytest.raises(ValueError, match=message) as error:
        VideoClipConfig(text_config=TEXT, vision_config=VISION, adapter=adapter)
    assert "\n" not in str(error.value) and "adapter" in str(error.value)


# ------------------------------------------------------------------------------------------------ exported runs
def export_run(adaptation_name, folder, mode):
    """What an `msta` / `adapter` run exports: `Adaptation.save` of the trained tuner, and the processor."""
    adaptation = get_adaptation(adaptation_name)
    args = Namespace(msta_dim=8, msta_start_layer=1, msta_end_layer=None, msta_scale=0.5, msta_dropout=0.1,
                     msta_towers="both")
    base = VideoClipModel.from_clip(TOY_CLIP, temporal_mode=mode, num_frames=4)
    tuner = randomize(adaptation.apply(base, args)).eval()
    adaptation.save(adaptation.export(tuner), str(folder), trained=tuner)
    VideoClipProcessor.from_pretrained(TOY_CLIP, num_frames=4).save_pretrained(folder)
    return tuner


def stage_in_cache(folder, hf_home, repo_id, commit="0" * 40):
    snapshot = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (snapshot.parent.parent / "refs").mkdir(parents=True, exist_ok=True)
    (snapshot.parent.parent / "refs" / "main").write_text(commit)


@pytest.mark.parametrize("adaptation, mode", [("msta", "viclip"), ("adapter", "mean")])
def test_exported_run_scores_the_same_by_hub_id_without_the_package(adaptation, mode, tmp_path):
    run = tmp_path / "run"
    tuner = export_run(adaptation, run, mode)
    config = json.loads((run / "config.json").read_text())
    assert config["adapter"]["type"] == adaptation and config["adapter"]["dim"] == 8
    assert (run / "msta" / "adapter_model.safetensors").is_file()  # the adapter alone, as before
    assert (run / "bottleneck_adapters.py").is_file()

    video = np.random.default_rng(1).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "video.npy", video)
    expected = pipeline(TASK, model=str(run))(video, candidate_labels=LABELS)  # the package's pipeline
    processor = VideoClipProcessor.from_pretrained(run)
    pixels = processor(videos=[video])["pixel_values_videos"]
    with torch.no_grad():
        expected_video = tuner.get_video_features(pixel_values_videos=pixels)
        with tuner.disable_adapter():
            base_video = tuner.get_video_features(pixel_values_videos=pixels)
    assert not torch.allclose(expected_video, base_video, atol=1e-3)  # the adapters matter

    # The assembled model (an MstaModel) goes to the pipeline as it is: same scores, not wrapped twice.
    assembled = load_video_clip_model(run)
    assert isinstance(assembled, MstaModel)
    by_model = pipeline(TASK, model=assembled, processor=processor)(video, LABELS)
    assert isinstance(by_model[0], dict) and by_model[0]["label"] == expected[0]["label"]
    assert [r["score"] for r in by_model] == pytest.approx([r["score"] for r in expected], abs=1e-5)

    repo_id = f"org/toy-{adaptation}"
    stage_in_cache(run, tmp_path / "hf_home", repo_id)
    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None  # `import hfvideoclip` fails: only the repository's code may run
import numpy as np, torch
from transformers import AutoModel, AutoProcessor, pipeline
video = np.load({str(tmp_path / 'video.npy')!r})
model = AutoModel.from_pretrained({repo_id!r}, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained({repo_id!r}, trust_remote_code=True)
with torch.no_grad():
    features = model.get_video_features(pixel_values_videos=processor(videos=[video])["pixel_values_videos"])
clf = pipeline({TASK!r}, model={repo_id!r}, trust_remote_code=True)
print(json.dumps({{"scores": clf(video, candidate_labels={LABELS!r}), "features": features.tolist(),
                  "adapter": model.config.adapter["type"]}}))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["adapter"] == adaptation
    torch.testing.assert_close(torch.tensor(got["features"]), expected_video, atol=1e-5, rtol=0)
    assert [r["label"] for r in got["scores"]] == [r["label"] for r in expected]
    assert [r["score"] for r in got["scores"]] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_a_run_exported_before_built_in_adapters_still_loads_its_msta_folder(tmp_path):
    """Base weights at the top level, the adapter only in `msta/` (the earlier export)."""
    run = tmp_path / "run"
    tuner = export_run("msta", run, "viclip")
    tuner.to_video_clip_model()  # leaves the tuner as it was
    legacy = tmp_path / "legacy"
    import copy

    copy.deepcopy(tuner).unload().save_pretrained(legacy)
    shutil.copytree(run / "msta", legacy / "msta")
    VideoClipProcessor.from_pretrained(run).save_pretrained(legacy)
    assert "adapter" not in json.loads((legacy / "config.json").read_text()) or \
        json.loads((legacy / "config.json").read_text())["adapter"] is None
    video = np.random.default_rng(2).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    new = pipeline(TASK, model=str(run))(video, candidate_labels=LABELS)
    old = pipeline(TASK, model=str(legacy))(video, candidate_labels=LABELS)
    assert [r["score"] for r in old] == pytest.approx([r["score"] for r in new], abs=1e-5)
    assert isinstance(load_video_clip_model(legacy), MstaModel)
