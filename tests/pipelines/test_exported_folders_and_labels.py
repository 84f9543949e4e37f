"""Every saved model folder serves `pipeline("zero-shot-video-classification", ...)`: with the package imported (no
`trust_remote_code` needed) and without it (`trust_remote_code=True`, the shipped pipeline); `Pipeline.save_pretrained`
writes such a folder; labels may be given when the pipeline is built or positionally."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoConfig, pipeline

from hfvideoclip import VideoClipModel, VideoClipProcessor
from hfvideoclip.adapters.msta import MstaConfig, get_msta_model
from hfvideoclip.pipelines import ZeroShotVideoClassificationPipeline
from hfvideoclip.toy import toy_clip_path

TOY_CLIP = toy_clip_path()
TASK = "zero-shot-video-classification"
LABELS = ["red circle", "blue square", "green triangle"]
REPOSITORY_IMPL = "pipeline_video_clip.ZeroShotVideoClassificationPipeline"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A plain `save_pretrained` folder (as a training run's output holds), not staged for the Hub."""
    path = tmp_path_factory.mktemp("saved") / "model"
    VideoClipModel.from_clip(TOY_CLIP, temporal_mode="vclip", num_frames=4).save_pretrained(path)
    VideoClipProcessor.from_pretrained(TOY_CLIP, num_frames=4).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def video():
    return np.random.default_rng(3).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)


def scores(results):
    return [(r["label"], pytest.approx(r["score"], abs=1e-5)) for r in results]


def test_saved_config_names_the_shipped_pipeline_and_the_package_needs_no_remote_code(folder, video):
    saved = json.loads((folder / "config.json").read_text())
    assert saved["custom_pipelines"][TASK]["impl"] == REPOSITORY_IMPL
    assert (folder / "pipeline_video_clip.py").is_file()
    # The installed package's config leaves the entry out, so the registered task answers without trust_remote_code.
    assert getattr(AutoConfig.from_pretrained(folder), "custom_pipelines", None) is None
    plain = pipeline(TASK, model=str(folder))
    assert isinstance(plain, ZeroShotVideoClassificationPipeline)
    trusted = pipeline(TASK, model=str(folder), trust_remote_code=True)
    assert scores(trusted(video, candidate_labels=LABELS)) == scores(plain(video, candidate_labels=LABELS))
    assert not hasattr(plain.model.config, "custom_pipelines")
    plain.model.save_pretrained(folder.parent / "again")  # the config in memory is left as it was
    assert not hasattr(plain.model.config, "custom_pipelines")


def test_a_local_folder_runs_the_pipeline_without_the_package(folder, video, tmp_path):
    expected = pipeline(TASK, model=str(folder))(video, candidate_labels=LABELS)
    np.save(tmp_path / "video.npy", video)
    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None  # `import hfvideoclip` fails: only the folder's code may run
import numpy as np
from transformers import pipeline
clf = pipeline({TASK!r}, model={str(folder)!r}, trust_remote_code=True)
print(json.dumps([type(clf).__module__, clf(np.load({str(tmp_path / 'video.npy')!r}), {LABELS!r})]))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    module, got = json.loads(result.stdout.strip().splitlines()[-1])
    assert module.startswith("transformers_modules") and module.endswith("pipeline_video_clip")
    assert scores(got) == scores(expected)


def test_pipeline_save_pretrained_writes_a_folder_the_pipeline_loads(folder, video, tmp_path):
    clf = pipeline(TASK, model=str(folder))
    clf.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert saved["custom_pipelines"][TASK]["impl"] == REPOSITORY_IMPL
    assert not (tmp_path / "saved" / "zero_shot_video_classification.py").exists()  # no package module copied
    again = pipeline(TASK, model=str(tmp_path / "saved"))
    assert scores(again(video, candidate_labels=LABELS)) == scores(clf(video, candidate_labels=LABELS))


def test_pipeline_save_pretrained_of_a_tuner_keeps_its_adapters(video, tmp_path):
    torch.manual_seed(0)
    tuner = get_msta_model(VideoClipModel.from_clip(TOY_CLIP, temporal_mode="viclip", num_frames=4),
                           MstaConfig(dim=8, scale=0.5)).eval()
    with torch.no_grad():
        for param in tuner.adapter_state_dict().values():
            param.normal_(0, 0.3)
    processor = VideoClipProcessor.from_pretrained(TOY_CLIP, num_frames=4)
    clf = pipeline(TASK, model=tuner, processor=processor)
    clf.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["adapter"]["type"] == "msta"
    again = pipeline(TASK, model=str(tmp_path / "saved"))
    assert scores(again(video, candidate_labels=LABELS)) == scores(clf(video, candidate_labels=LABELS))


def test_labels_given_when_built_or_positionally(folder, video):
    by_keyword = pipeline(TASK, model=str(folder))(video, candidate_labels=LABELS)
    built = pipeline(TASK, model=str(folder), candidate_labels=LABELS)
    assert scores(built(video)) == scores(by_keyword)
    assert scores(built(video, candidate_labels=LABELS[:2])) == scores(
        pipeline(TASK, model=str(folder))(video, candidate_labels=LABELS[:2]))  # the call's labels win
    assert scores(pipeline(TASK, model=str(folder))(video, LABELS)) == scores(by_keyword)
    with pytest.raises(ValueError, match="needs candidate_labels"):
        pipeline(TASK, model=str(folder))(video)
