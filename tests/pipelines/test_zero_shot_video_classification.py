"""Processor, pipeline, CLI and bad-input errors on a tiny model saved to a temp dir (no network)."""

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoProcessor, CLIPConfig, CLIPModel, CLIPTokenizer, pipeline  # noqa: F401

import hfvideoclip  # noqa: F401
from hfvideoclip import VideoClipModel, VideoClipProcessor, VideoClipVideoProcessor
from hfvideoclip.cli import main as cli_main
from hfvideoclip.errors import VideoDecodingError
from hfvideoclip.text.templates import KINETICS_TEMPLATES
from hfvideoclip.toy.encode import write_mp4
from hfvideoclip.toy.tokenizer import build_tokenizer

WORDS = ["a", "video", "of", "photo", "person", "using", "doing", "during", "performing", "practicing", "example",
         "demonstration", "red", "green", "blue", "circle", "square", "."]


def tiny_tokenizer() -> CLIPTokenizer:
    return build_tokenizer(WORDS)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    text = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                vocab_size=len(tokenizer), max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=4)
    clip_dir = tmp_path_factory.mktemp("clip")
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)).save_pretrained(clip_dir)
    path = tmp_path_factory.mktemp("model")
    VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=4).save_pretrained(path)
    VideoClipProcessor(tokenizer, VideoClipVideoProcessor(num_frames=4, size=32)).save_pretrained(path)
    return path


def coloured_video(frames=12, height=40, width=48, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    video = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        video[t, :, :] = rng.integers(0, 255, 3)
        video[t, 10:30, 10 + t:30 + t] = 255
    return video


@pytest.fixture(scope="module")
def mp4_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("videos") / "clip.mp4"
    write_mp4(coloured_video(), path, fps=8)
    return path


def test_processor_round_trip_and_shapes(model_dir, tmp_path):
    processor = AutoProcessor.from_pretrained(model_dir)
    assert isinstance(processor, VideoClipProcessor) and processor.video_processor.num_frames == 4
    batch = processor(text=["a red circle", "a blue square ."], videos=[coloured_video(), coloured_video(seed=1)],
                      num_clips=3, num_crops=3)
    assert batch["pixel_values_videos"].shape == (2 * 9, 4, 3, 32, 32)
    assert batch["input_ids"].shape[0] == 2
    processor.save_pretrained(tmp_path)
    again = VideoClipProcessor.from_pretrained(tmp_path)
    assert again.video_processor.to_dict() == processor.video_processor.to_dict()


def test_processor_normalises_with_config_mean_std():
    frames = np.full((4, 32, 32, 3), 128, np.uint8)
    video_processor = VideoClipVideoProcessor(num_frames=4, size=32, image_mean=[0.5, 0.4, 0.3],
                                              image_std=[0.2, 0.25, 0.5])
    pixels = video_processor(frames)["pixel_values_videos"]
    expected = (128 / 255 - torch.tensor([0.5, 0.4, 0.3])) / torch.tensor([0.2, 0.25, 0.5])
    torch.testing.assert_close(pixels[0, 0, :, 16, 16], expected, atol=1e-4, rtol=1e-4)


def test_processor_accepts_path_bytes_file_object_array_and_tensor(model_dir, mp4_path):
    video_processor = VideoClipProcessor.from_pretrained(model_dir).video_processor
    data = mp4_path.read_bytes()
    outputs = [video_processor(source)["pixel_values_videos"]
               for source in (str(mp4_path), mp4_path, data, io.BytesIO(data))]
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0])
    array = coloured_video()
    torch.testing.assert_close(video_processor(array)["pixel_values_videos"],
                               video_processor(torch.from_numpy(array))["pixel_values_videos"])


def test_short_video_is_sampled_with_repetition(model_dir):
    video_processor = VideoClipProcessor.from_pretrained(model_dir).video_processor
    pixels = video_processor(coloured_video(frames=2))["pixel_values_videos"]
    assert pixels.shape == (1, 4, 3, 32, 32)


def test_pipeline_scores_sorted_and_sum_to_one(model_dir, mp4_path):
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    labels = ["red circle", "green square", "blue circle"]
    result = clf(str(mp4_path), candidate_labels=labels)
    assert sorted(r["label"] for r in result) == sorted(labels)
    scores = [r["score"] for r in result]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)
    batch = clf([str(mp4_path), coloured_video(seed=3)], candidate_labels=labels, batch_size=2)
    assert len(batch) == 2
    assert [r["label"] for r in batch[0]] == [r["label"] for r in result]
    assert [r["score"] for r in batch[0]] == pytest.approx(scores, abs=1e-5)


def test_pipeline_matches_direct_model_computation_with_views(model_dir):
    """Views combine as the model's config says: `probabilities` = mean of the views' softmax (ViFi-CLIP / OST
    `validate`), `logits` = softmax of the views' mean logits (Open-VCLIP / FROSTER test meter)."""
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    labels = ["red circle", "blue square"]
    video = coloured_video(frames=16)
    model = VideoClipModel.from_pretrained(model_dir).eval()
    processor = VideoClipProcessor.from_pretrained(model_dir)
    with torch.no_grad():
        pixels = processor(videos=video, num_clips=2, num_crops=3)["pixel_values_videos"]
        v = F.normalize(model.get_video_features(pixel_values_videos=pixels), dim=-1)
        tokens = processor(text=[f"a video of {label} ." for label in labels])
        t = F.normalize(model.get_text_features(**tokens), dim=-1)
        view_logits = model.logit_scale.exp() * v @ t.t()  # (6 views, 2 labels)
    expected = {"logits": view_logits.mean(0).softmax(-1), "probabilities": view_logits.softmax(-1).mean(0)}
    assert not torch.allclose(expected["logits"], expected["probabilities"], atol=1e-4)
    assert clf.model.config.view_pooling == "probabilities"  # a frame-mean model: ViFi-CLIP's protocol
    for view_pooling, probs in expected.items():
        clf.model.config.view_pooling = view_pooling
        result = clf(video, candidate_labels=labels, hypothesis_template="a video of {} .", num_clips=2, num_crops=3)
        for item in result:
            assert item["score"] == pytest.approx(float(probs[labels.index(item["label"])]), abs=1e-5)


def test_pipeline_scores_through_the_model_head(model_dir, monkeypatch):
    """Class embeddings from `get_class_embeddings` ((C, K, L) prompts), logits from `compute_logits` (the head)."""
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    seen = {}
    class_embeddings, compute_logits = clf.model.get_class_embeddings, clf.model.compute_logits

    def spy_classes(input_ids, attention_mask=None):
        seen["ids"] = tuple(input_ids.shape)
        return class_embeddings(input_ids, attention_mask)

    def spy_logits(video, classes, frame_embeds=None):
        seen["logits"] = (tuple(video.shape), tuple(classes.shape), tuple(frame_embeds.shape))
        return -compute_logits(video, classes, frame_embeds=frame_embeds)  # flips the ranking

    monkeypatch.setattr(clf.model, "get_class_embeddings", spy_classes)
    monkeypatch.setattr(clf.model, "compute_logits", spy_logits)
    labels = ["red circle", "blue square", "green circle"]
    templates = ["a video of {} .", "a photo of {} ."]
    result = clf(coloured_video(), candidate_labels=labels, hypothesis_template=templates, num_clips=2)
    assert seen["ids"][:2] == (3, 2)
    assert seen["logits"] == ((2, 24), (3, 24), (2, 4, 24))
    monkeypatch.undo()
    clf._label_cache.clear()
    normal = clf(coloured_video(), candidate_labels=labels, hypothesis_template=templates, num_clips=2)
    assert [r["label"] for r in result] == [r["label"] for r in normal][::-1]


def test_label_embeddings_are_cached_per_labels_and_templates(model_dir, monkeypatch):
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    calls = []
    original = clf.model.get_text_features

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(clf.model, "get_text_features", counting)
    for _ in range(3):
        clf(coloured_video(), candidate_labels=["red circle", "blue square"])
    first = len(calls)
    assert first >= 1
    clf(coloured_video(), candidate_labels=["red circle", "blue square"], hypothesis_template="a photo of {} .")
    assert len(calls) > first
    assert len(KINETICS_TEMPLATES) == 28


def test_pipeline_bfloat16(model_dir):
    clf = pipeline("zero-shot-video-classification", model=str(model_dir), dtype=torch.bfloat16)
    assert clf.model.dtype == torch.bfloat16
    result = clf(coloured_video(), candidate_labels=["red circle", "blue square"])
    assert sum(r["score"] for r in result) == pytest.approx(1.0, abs=1e-3)
    # Workers pass the views back in the model's dtype (half the bytes), with the scores of float32 views cast later.
    views = clf.preprocess(coloured_video())["pixel_values_videos"]
    assert views.dtype == torch.bfloat16
    as_float = {"pixel_values_videos": clf.processor.video_processor([coloured_video()])["pixel_values_videos"]}
    assert torch.equal(views, as_float["pixel_values_videos"].to(torch.bfloat16))
    kwargs = dict(candidate_labels=("red circle", "blue square"), hypothesis_template="a video of {} .")
    torch.testing.assert_close(clf._forward({"pixel_values_videos": views}, **kwargs)["scores"],
                               clf._forward(as_float, **kwargs)["scores"], rtol=0, atol=0)
    float_clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    assert float_clf.preprocess(coloured_video())["pixel_values_videos"].dtype == torch.float32


@pytest.mark.parametrize("labels, message", [([], "empty"), (["a", "a"], "duplicates"), (["a", " "], "non-empty")])
def test_pipeline_rejects_bad_labels(model_dir, labels, message):
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    with pytest.raises(ValueError, match=message):
        clf(coloured_video(), candidate_labels=labels)


def test_bad_video_inputs_name_the_input(model_dir, tmp_path):
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    text_file = tmp_path / "notes.mp4"
    text_file.write_text("this is not a video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in (tmp_path / "missing.mp4", text_file, empty):
        with pytest.raises(VideoDecodingError, match=path.name):
            clf(str(path), candidate_labels=["red circle"])
    with pytest.raises(ValueError, match="shape"):
        clf(np.zeros((4, 32, 32), np.uint8), candidate_labels=["red circle"])
    with pytest.raises(ValueError, match="Unsupported video input"):
        clf(12, candidate_labels=["red circle"])


def test_cli_predict_prints_top_k(model_dir, mp4_path, capsys):
    code = cli_main(["predict", str(mp4_path), "--model", str(model_dir), "--labels", "red circle,blue square",
                     "--top_k", "2", "--template", "a video of {} ."])
    out = capsys.readouterr().out
    assert code == 0 and "red circle" in out and "blue square" in out and str(mp4_path) in out


def test_cli_reports_bad_input_without_traceback(model_dir, tmp_path, capsys):
    code = cli_main(["predict", str(tmp_path / "missing.mp4"), "--model", str(model_dir), "--labels", "a,b"])
    err = capsys.readouterr().err
    assert code == 1 and "1 of 1 videos could not be decoded" in err and "missing.mp4" in err  # listed, no traceback
    assert "Traceback" not in err


def test_non_clip_models_are_refused_with_the_fix():
    from transformers import BertConfig, BertModel

    from hfvideoclip.pipelines.zero_shot_video_classification import _as_video_model

    bert = BertModel(BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
                                vocab_size=10))
    with pytest.raises(ValueError, match="loaded as BertModel. Convert it first"):
        _as_video_model(bert, None)


def test_pipeline_batches_lists_generators_and_key_datasets_with_workers(model_dir, tmp_path):
    """Pipeline.__call__ drives batching: every input form and worker count gives the one-at-a-time results."""
    from datasets import Dataset
    from transformers.pipelines.pt_utils import KeyDataset

    paths = []
    for seed in range(5):
        path = tmp_path / f"v{seed}.mp4"
        write_mp4(coloured_video(seed=seed), path, fps=8)
        paths.append(str(path))
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    labels = ["red", "green", "blue"]
    one_by_one = [clf(p, candidate_labels=labels, num_clips=2) for p in paths]
    assert isinstance(one_by_one[0], list) and {"label", "score"} <= set(one_by_one[0][0])
    forms = {
        "list, batch 2": clf(paths, candidate_labels=labels, num_clips=2, batch_size=2),
        "list, batch 3, 2 workers": clf(paths, candidate_labels=labels, num_clips=2, batch_size=3, num_workers=2),
        "generator": list(clf((p for p in paths), candidate_labels=labels, num_clips=2, batch_size=2)),
        "KeyDataset": list(clf(KeyDataset(Dataset.from_dict({"video": paths}), "video"), candidate_labels=labels,
                               num_clips=2, batch_size=4)),
    }
    for name, results in forms.items():
        assert len(results) == 5, name
        for got, expected in zip(results, one_by_one):
            assert [r["label"] for r in got] == [r["label"] for r in expected], name
            for a, b in zip(got, expected):
                assert a["score"] == pytest.approx(b["score"], abs=1e-5), name
    with pytest.raises(ValueError, match="candidate_labels"):
        clf(paths[0])


def test_pipeline_pins_batches_for_a_gpu_only(model_dir):
    """Decoded batches are pinned when the model is on a GPU (full-speed copies), not on the CPU."""
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    params = ({}, {"candidate_labels": ["red circle"]}, {})

    def loader_of(iterator):
        return iterator.loader.loader  # postprocess iterator -> forward iterator -> DataLoader

    assert loader_of(clf.get_iterator([coloured_video()], 0, 2, *params)).pin_memory is False
    clf.device = torch.device("cuda")  # only inspected, never iterated
    assert loader_of(clf.get_iterator([coloured_video()], 0, 2, *params)).pin_memory is True


def test_pipeline_runs_a_compiled_model_with_the_same_scores(model_dir):
    """#17: the pipeline accepts a model whose towers are compiled (regional `torch.compile`, `aot_eager` here)."""
    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    labels = ["red circle", "blue square"]
    videos = [coloured_video(seed=0), coloured_video(seed=1), coloured_video(seed=2)]
    expected = clf(videos, candidate_labels=labels, batch_size=2)
    clf.model.compile_towers(backend="aot_eager")
    torch._dynamo.reset()
    try:
        actual = clf(videos, candidate_labels=labels, batch_size=2)
    finally:
        torch._dynamo.reset()
    for want, got in zip(expected, actual):
        assert [r["label"] for r in got] == [r["label"] for r in want]
        assert [r["score"] for r in got] == pytest.approx([r["score"] for r in want], abs=1e-5)


def test_every_worker_decodes_even_when_the_videos_fill_one_batch(model_dir, tmp_path):
    """Videos are loaded one per DataLoader item and batched afterwards: 4 videos at batch_size 4 with 2 workers are
    decoded by both workers (a DataLoader batch is made by one worker), in order, with the one-at-a-time scores."""
    from torch.utils.data import get_worker_info

    clf = pipeline("zero-shot-video-classification", model=str(model_dir))
    labels = ["red circle", "blue square"]
    videos = [coloured_video(seed=seed) for seed in range(4)]
    expected = [clf(video, candidate_labels=labels) for video in videos]
    preprocess = clf.preprocess

    def recording_preprocess(video, **kwargs):
        info = get_worker_info()
        (tmp_path / f"worker{info.id if info else 'main'}-{len(list(tmp_path.iterdir()))}").touch()
        return preprocess(video, **kwargs)

    clf.preprocess = recording_preprocess
    actual = clf(videos, candidate_labels=labels, batch_size=4, num_workers=2)
    workers = {path.name.split("-")[0] for path in tmp_path.iterdir()}
    assert workers == {"worker0", "worker1"}
    for want, got in zip(expected, actual):
        assert [r["label"] for r in got] == [r["label"] for r in want]
        assert [r["score"] for r in got] == pytest.approx([r["score"] for r in want], abs=1e-5)
