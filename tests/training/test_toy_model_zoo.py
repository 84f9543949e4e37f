"""The model zoo path end to end: every method's run (a few steps on the tiny CLIP) is exported, staged for the Hub
in a dry run, placed in an offline Hugging Face cache as `org/<method>`, and loaded by id with the pipeline in a
process that cannot import hfvideoclip: the scores equal the package's pipeline on the exported folder.

msta runs are left out: their adapters are package code (the staged repository says so in its card)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from transformers import pipeline

from hfvideoclip.hub.push import push_run
from hfvideoclip.training.builder import build_trainer

RUNS = {"ce": {}, "open_vclip": {}, "froster": {}, "taco": {}, "open_mede": {}, "ost": {},
        "ce-lora": {"adaptation": "lora"}}
LABELS = ["red circle moving left", "blue square moving right"]


def stage_in_cache(folder, hf_home, repo_id, commit="1" * 40):
    snapshot = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (snapshot.parent.parent / "refs").mkdir(parents=True, exist_ok=True)
    (snapshot.parent.parent / "refs" / "main").write_text(commit)


@pytest.mark.slow
def test_every_methods_run_is_staged_and_loads_by_id_without_the_package(clip_dir, dataset, tmp_path, make_args):
    video = np.zeros((8, 16, 16, 3), np.uint8)
    video[..., 0] = 200
    np.save(tmp_path / "video.npy", video)
    expected, repos = {}, {}
    for name, overrides in RUNS.items():
        method = name.split("-")[0]
        args, config = make_args(tmp_path / name, method, max_steps=2, **overrides)
        trainer = build_trainer(args, clip_dir, dataset, method_config=config)
        trainer.train()
        export = tmp_path / name / "export"
        trainer.save_model(str(export))
        (export / "train_args.json").write_text(json.dumps({"method": {"value": method, "source": "command line"}}))
        staged = push_run(export, f"org/{name}", dry_run=True, staging_dir=tmp_path / "staged" / name)
        assert "pipeline_video_clip.py" in staged.files and "config.json" in staged.files
        assert not any(f.startswith("checkpoint") for f in staged.files)
        stage_in_cache(tmp_path / "staged" / name, tmp_path / "hf_home", f"org/{name}")
        clf = pipeline("zero-shot-video-classification", model=str(export))
        expected[name] = clf(video, candidate_labels=LABELS)
        repos[name] = f"org/{name}"

    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None
import numpy as np
from transformers import pipeline
video = np.load({str(tmp_path / 'video.npy')!r})
out = {{name: pipeline("zero-shot-video-classification", model=repo, trust_remote_code=True)(
    video, candidate_labels={LABELS!r}) for name, repo in {repos!r}.items()}}
print("RESULT " + json.dumps(out))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))[7:])
    for name in RUNS:
        assert [r["label"] for r in got[name]] == [r["label"] for r in expected[name]], name
        assert [r["score"] for r in got[name]] == [pytest.approx(r["score"], abs=1e-5) for r in expected[name]], name
