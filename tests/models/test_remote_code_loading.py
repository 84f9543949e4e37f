"""A saved model folder loads as a user downloads it: placed in a Hugging Face cache as the snapshot of `org/name`,
loaded offline by Hub id in a process where `hfvideoclip` cannot be imported (`trust_remote_code=True`), with the
same features as the in-process model."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import hfvideoclip
from hfvideoclip import VideoClipModel, VideoClipProcessor
from hfvideoclip.toy import toy_clip_path

TOY_CLIP = toy_clip_path()


def stage_in_cache(folder, hf_home, repo_id="org/toy-video-clip", commit="0" * 40):
    snapshot = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    refs = snapshot.parent.parent / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(commit)
    return repo_id


def test_model_and_processor_load_by_hub_id_without_the_package(tmp_path):
    folder = tmp_path / "export"
    model = VideoClipModel.from_clip(TOY_CLIP, temporal_mode="vclip", num_frames=4).eval()
    model.save_pretrained(folder)
    processor = VideoClipProcessor.from_pretrained(TOY_CLIP, num_frames=4)
    processor.save_pretrained(folder)
    config = json.loads((folder / "processor_config.json").read_text())
    assert config["auto_map"]["AutoProcessor"] == "processing_video_clip.VideoClipProcessor"
    for name in ("processing_video_clip.py", "video_decoding.py", "video_sampling.py", "video_transforms.py"):
        assert (folder / name).is_file(), name
    repo_id = stage_in_cache(folder, tmp_path / "hf_home")

    video = np.random.default_rng(0).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "video.npy", video)
    inputs = processor(text=["a video of a red circle"], videos=[video])
    with torch.no_grad():
        expected_video = model.get_video_features(pixel_values_videos=inputs["pixel_values_videos"])
        expected_text = model.get_text_features(inputs["input_ids"], inputs["attention_mask"])

    script = f"""
import sys
sys.modules["hfvideoclip"] = None  # `import hfvideoclip` fails: only the repository's code may run
import numpy as np, torch
from transformers import AutoModel, AutoProcessor
model = AutoModel.from_pretrained({repo_id!r}, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained({repo_id!r}, trust_remote_code=True)
inputs = processor(text=["a video of a red circle"], videos=[np.load({str(tmp_path / 'video.npy')!r})])
with torch.no_grad():
    video = model.get_video_features(pixel_values_videos=inputs["pixel_values_videos"])
    text = model.get_text_features(inputs["input_ids"], inputs["attention_mask"])
torch.save({{"video": video, "text": text, "classes": [type(model).__name__, type(processor).__name__]}},
           {str(tmp_path / 'out.pt')!r})
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = torch.load(tmp_path / "out.pt")
    assert out["classes"] == ["VideoClipModel", "VideoClipProcessor"]
    assert torch.allclose(out["video"], expected_video, atol=1e-5)
    assert torch.allclose(out["text"], expected_text, atol=1e-5)


def test_pipeline_by_hub_id_without_the_package_gives_the_packages_scores(tmp_path):
    from transformers import pipeline

    from hfvideoclip.models.video_clip.pipeline_video_clip import CUSTOM_PIPELINES

    folder = tmp_path / "export"
    VideoClipModel.from_clip(TOY_CLIP, num_frames=4).save_pretrained(folder)
    VideoClipProcessor.from_pretrained(TOY_CLIP, num_frames=4).save_pretrained(folder)
    assert (folder / "pipeline_video_clip.py").is_file() and (folder / "descriptor_files.py").is_file()
    config = json.loads((folder / "config.json").read_text())
    config["custom_pipelines"] = CUSTOM_PIPELINES  # as staging for the Hub writes it
    (folder / "config.json").write_text(json.dumps(config))
    video = np.random.default_rng(1).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "video.npy", video)
    labels = ["red circle", "blue square", "green triangle"]
    expected = pipeline("zero-shot-video-classification", model=str(folder), trust_remote_code=True)(
        video, candidate_labels=labels)
    repo_id = stage_in_cache(folder, tmp_path / "hf_home")
    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None
import numpy as np
import pytest
from transformers import pipeline
clf = pipeline("zero-shot-video-classification", model={repo_id!r}, trust_remote_code=True)
print(json.dumps(clf(np.load({str(tmp_path / 'video.npy')!r}), candidate_labels={labels!r})))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score"] for r in got] == [pytest.approx(r["score"], abs=1e-5) for r in expected]


@pytest.mark.parametrize("entry", ["modeling_video_clip.py", "processing_video_clip.py", "pipeline_video_clip.py"])
def test_remote_code_entry_files_import_everything_they_need_directly(entry):
    """transformers releases before 5.23 copy only a remote module's direct relative imports into their module
    cache, then read every file of the recursive closure: each entry file must import its whole closure itself
    (a nested-only import fails to load by Hub id there, with FileNotFoundError)."""
    from pathlib import Path

    from transformers.dynamic_module_utils import get_relative_import_files, get_relative_imports

    path = Path(hfvideoclip.__file__).parent / "models" / "video_clip" / entry
    closure = {Path(f).stem for f in get_relative_import_files(str(path))}
    missing = closure - set(get_relative_imports(str(path)))
    assert not missing, f"{entry} reaches {sorted(missing)} only through other files; import them in {entry}"
