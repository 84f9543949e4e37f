"""`VideoClipProcessor` / `VideoClipVideoProcessor`: argument routing and refusals, `return_tensors`, metadata,
`BatchFeature` outputs, serialisation, and Hub arguments (revision, ...) read from an offline cache with two
revisions."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import BatchFeature
from transformers.utils import PushToHubMixin

from hfvideoclip import VideoClipModel, VideoClipProcessor, VideoClipVideoProcessor
from hfvideoclip.models.video_clip.descriptor_files import load_descriptor_table, resolve_file
from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.encode import write_mp4
from hfvideoclip.toy.tokenizer import build_tokenizer

TOY_CLIP = toy_clip_path()


def video(frames=12, height=40, width=48, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((frames, height, width, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def processor():
    return VideoClipProcessor(build_tokenizer(["a", "video", "of", "red", "circle"]),
                              VideoClipVideoProcessor(num_frames=8, size=32))


# ------------------------------------------------------------------------------------------ item: arguments
def test_num_frames_is_routed_flat_in_videos_kwargs_and_to_the_video_processor(processor):
    clip = video()
    assert processor(videos=clip, num_frames=4)["pixel_values_videos"].shape == (1, 4, 3, 32, 32)
    assert processor(videos=clip, videos_kwargs={"num_frames": 4})["pixel_values_videos"].shape[1] == 4
    assert processor.video_processor(clip, num_frames=4)["pixel_values_videos"].shape[1] == 4
    assert processor(videos=clip)["pixel_values_videos"].shape[1] == 8  # the saved default stays
    views = processor(videos=[clip, clip], videos_kwargs={"num_clips": 2, "num_crops": 3})["pixel_values_videos"]
    assert views.shape == (2 * 2 * 3, 8, 3, 32, 32)
    padded = processor(text=["a video"], text_kwargs={"padding": "max_length", "max_length": 10})
    assert padded["input_ids"].shape == (1, 10)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"fps": 2}, ValueError, "fps=2.*num_frames"),
    ({"videos_kwargs": {"fps": 2}}, ValueError, "fps=2.*num_frames"),
    ({"frame_rate": 2}, TypeError, "'frame_rate'.*num_frames"),
    ({"videos_kwargs": {"do_resize": False}}, TypeError, "'do_resize' in videos_kwargs"),
    ({"text_kwargs": {"num_frames": 4}}, TypeError, "'num_frames' in text_kwargs"),
    ({"num_frames": 4, "videos_kwargs": {"num_frames": 2}}, TypeError, "'num_frames' twice"),
    ({"return_tensors": "tf"}, ValueError, "return_tensors='tf'"),
])
def test_unknown_or_unsupported_arguments_are_refused_on_one_line(processor, kwargs, error, match):
    with pytest.raises(error, match=match) as raised:
        processor(text=["a video"], videos=video(), **kwargs)
    assert "\n" not in str(raised.value)


def test_video_processor_refuses_unknown_arguments(processor):
    with pytest.raises(TypeError, match="'do_resize'; it accepts num_frames"):
        processor.video_processor(video(), do_resize=False)
    with pytest.raises(ValueError, match="fps=2"):
        processor.video_processor(video(), fps=2)


def test_return_tensors_np_applies_to_pixels_too(processor):
    batch = processor(text=["a video"], videos=video(), return_tensors="np")
    assert all(isinstance(batch[k], np.ndarray) for k in ("input_ids", "attention_mask", "pixel_values_videos"))
    torch_batch = processor(text=["a video"], videos=video())
    np.testing.assert_array_equal(batch["pixel_values_videos"], torch_batch["pixel_values_videos"].numpy())
    assert isinstance(torch_batch["pixel_values_videos"], torch.Tensor)


def test_return_metadata_of_a_file_and_of_decoded_frames(processor, tmp_path):
    path = tmp_path / "v.mp4"
    write_mp4(video(), path, fps=8)
    out = processor(videos=[str(path), video(frames=6)], num_frames=4, return_metadata=True)
    from_file, from_frames = out["video_metadata"]
    assert from_file["total_num_frames"] == 12 and from_file["fps"] == pytest.approx(8)
    assert from_file["duration"] == pytest.approx(1.5)
    assert from_file["frames_indices"] == [[1, 4, 7, 10]] and (from_file["height"], from_file["width"]) == (40, 48)
    assert from_frames["total_num_frames"] == 6 and from_frames["fps"] is None
    assert from_frames["frames_indices"] == [[0, 2, 3, 5]]
    assert "video_metadata" not in processor(videos=str(path))


def test_video_processor_returns_a_batch_feature_with_model_input_names(processor):
    out = processor.video_processor(video())
    assert isinstance(out, BatchFeature) and list(out) == ["pixel_values_videos"]
    assert VideoClipVideoProcessor.model_input_names == ["pixel_values_videos"]
    assert processor.model_input_names == ["input_ids", "attention_mask", "pixel_values_videos"]
    # BatchFeature.to moves it like transformers' processors' outputs
    assert out.to(torch.float16)["pixel_values_videos"].dtype == torch.float16


def test_repr_to_dict_and_push_to_hub(processor):
    assert issubclass(VideoClipVideoProcessor, PushToHubMixin) and issubclass(VideoClipProcessor, PushToHubMixin)
    text = repr(processor.video_processor)
    assert text.startswith("VideoClipVideoProcessor {") and '"num_frames": 8' in text
    assert json.loads(text.split(" ", 1)[1]) == processor.video_processor.to_dict()
    assert "- video_processor: VideoClipVideoProcessor" in repr(processor)
    assert processor.to_dict()["video_processor"]["video_processor_type"] == "VideoClipVideoProcessor"


def test_push_to_hub_saves_and_uploads(processor, monkeypatch):
    import huggingface_hub

    uploads = []

    def upload(self, working_dir, repo_id, **kwargs):
        uploads.append((repo_id, sorted(os.listdir(working_dir))))
        return "url"

    monkeypatch.setattr(huggingface_hub, "create_repo",
                        lambda repo_id, **kwargs: type("Repo", (), {"repo_id": repo_id})())
    monkeypatch.setattr(PushToHubMixin, "_upload_modified_files", upload)
    repo = staticmethod(lambda repo_id, **kwargs: type("Repo", (), {"repo_id": repo_id})())
    # transformers >= 5.2x creates the repository through `hf_api()`, 5.6 through the module's `create_repo`
    monkeypatch.setattr("transformers.utils.hub.hf_api", lambda: type("Api", (), {"create_repo": repo})(),
                        raising=False)
    monkeypatch.setattr("transformers.utils.hub.create_repo", repo, raising=False)
    monkeypatch.setattr("transformers.utils.hub.create_and_tag_model_card",
                        lambda *args, **kwargs: type("Card", (), {"save": lambda self, path: None})())
    processor.video_processor.push_to_hub("org/vp")
    assert uploads[-1] == ("org/vp", ["video_preprocessor_config.json"])
    processor.push_to_hub("org/vc")
    assert uploads[-1][0] == "org/vc" and {"processor_config.json", "video_preprocessor_config.json",
                                           "tokenizer_config.json"} <= set(uploads[-1][1])


def test_saved_config_names_its_type_and_older_files_still_load(tmp_path):
    VideoClipVideoProcessor(num_frames=4, size=32).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "video_preprocessor_config.json").read_text())
    assert saved["video_processor_type"] == "VideoClipVideoProcessor"
    del saved["video_processor_type"]  # as written before the key existed
    (tmp_path / "video_preprocessor_config.json").write_text(json.dumps(saved))
    loaded = VideoClipVideoProcessor.from_pretrained(tmp_path)
    assert (loaded.num_frames, loaded.size) == (4, 32)
    with pytest.raises(TypeError, match="'frames'"):
        VideoClipVideoProcessor.from_pretrained(tmp_path, frames=4)


# ------------------------------------------------------------------------------------------ item: Hub arguments
def stage_revisions(cache, repo_id, revisions: dict) -> None:
    """A Hugging Face cache laid out by hand: `refs/<name>` holds a commit, `snapshots/<commit>/` its files."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    for number, (name, folder) in enumerate(revisions.items()):
        commit = f"{number + 1:040x}"
        shutil.copytree(folder, repo / "snapshots" / commit)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / name).write_text(commit)


@pytest.fixture(scope="module")
def two_revision_cache(tmp_path_factory):
    """`org/vc` with `main` (8 frames, no descriptors.json) and `v2` (4 frames, a descriptors.json)."""
    root = tmp_path_factory.mktemp("hub")
    tokenizer = build_tokenizer(["a", "video", "of", "red", "circle"])
    folders = {}
    for name, frames in (("main", 8), ("v2", 4)):
        folder = root / name
        VideoClipModel.from_clip(TOY_CLIP, temporal_mode="mean", num_frames=frames).save_pretrained(folder)
        VideoClipProcessor(tokenizer, VideoClipVideoProcessor(num_frames=frames, size=32)).save_pretrained(folder)
        folders[name] = folder
    table = {"red circle": {"spatial": ["a red disc"], "temporal": ["it stays still"]}}
    (folders["v2"] / "descriptors.json").write_text(json.dumps(table))
    cache = root / "cache"
    stage_revisions(cache, "org/vc", folders)
    return cache


def run_offline(cache, script: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=environment, capture_output=True,
                          text=True, timeout=300)


def test_revision_reads_that_revisions_files_from_an_offline_cache(two_revision_cache):
    result = run_offline(two_revision_cache, """
        import json
        from transformers import pipeline
        from hfvideoclip import VideoClipProcessor, VideoClipVideoProcessor
        from hfvideoclip.models.video_clip.descriptor_files import load_descriptor_table

        out = {}
        for revision in (None, "v2"):
            kwargs = {} if revision is None else {"revision": revision}
            processor = VideoClipProcessor.from_pretrained("org/vc", **kwargs)
            clf = pipeline("zero-shot-video-classification", model="org/vc", **kwargs)
            out[str(revision)] = {
                "video": VideoClipVideoProcessor.from_pretrained("org/vc", **kwargs).num_frames,
                "processor": processor.video_processor.num_frames,
                "descriptors": load_descriptor_table("org/vc", **kwargs),
                "pipeline": clf.processor.video_processor.num_frames,
                "pipeline_descriptors": load_descriptor_table(clf.model.name_or_path, **clf.model.hub_kwargs),
            }
        print(json.dumps(out))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    table = {"red circle": {"spatial": ["a red disc"], "temporal": ["it stays still"]}}
    assert out["None"] == {"video": 8, "processor": 8, "descriptors": None, "pipeline": 8,
                           "pipeline_descriptors": None}
    assert out["v2"] == {"video": 4, "processor": 4, "descriptors": table, "pipeline": 4,
                         "pipeline_descriptors": table}


def test_hub_files_in_process_with_cache_dir_and_local_files_only(two_revision_cache):
    hub = {"cache_dir": two_revision_cache, "local_files_only": True}
    assert VideoClipVideoProcessor.from_pretrained("org/vc", revision="v2", **hub).num_frames == 4
    assert VideoClipVideoProcessor.from_pretrained("org/vc", **hub).num_frames == 8
    assert resolve_file("org/vc", "descriptors.json", **hub) is None  # optional file missing on main
    assert load_descriptor_table("org/vc", revision="v2", **hub) is not None
    with pytest.raises(OSError, match="'org/vc' at revision 'v3' holds no video_preprocessor_config.json"):
        VideoClipVideoProcessor.from_pretrained("org/vc", revision="v3", **hub)


def test_corrupt_json_in_the_cache_is_reported(tmp_path, two_revision_cache):
    cache = tmp_path / "cache"
    shutil.copytree(two_revision_cache, cache)
    commit = (cache / "models--org--vc" / "refs" / "v2").read_text()
    (cache / "models--org--vc" / "snapshots" / commit / "video_preprocessor_config.json").write_text("{oops")
    with pytest.raises(ValueError, match="video_preprocessor_config.json is not valid JSON"):
        VideoClipVideoProcessor.from_pretrained("org/vc", revision="v2", cache_dir=cache, local_files_only=True)


def test_unreachable_hub_is_an_error_not_a_default(tmp_path):
    """Online (no HF_HUB_OFFLINE) with the Hub unreachable and nothing cached: an error naming the fix, where the
    old code fell back to the default settings (8 frames) without a word."""
    result = run_offline(tmp_path / "empty", """
        import time
        time.sleep = lambda seconds: None  # huggingface_hub's five backoff waits (23 s) say nothing here
        from hfvideoclip import VideoClipVideoProcessor
        try:
            VideoClipVideoProcessor.from_pretrained("org/vc", revision="v2")
        except OSError as error:
            print("OSError:", error)
    """, HF_HUB_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OSError: Could not reach the Hugging Face Hub" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "HF_HUB_OFFLINE=1" in result.stdout
