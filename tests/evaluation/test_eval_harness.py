"""The evaluation harness on a fake model and processor: a video "path" looks up per-view embeddings that the
fake processor writes into the pixels and the fake model reads back; class names embed to fixed vectors."""

import json
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from datasets import ClassLabel, Dataset, Features, Value
from PIL import Image

from hfvideoclip.evaluation import evaluate_dataset, evaluate_protocol, load_results
from hfvideoclip.evaluation.harness import aggregate_metrics, split_metrics

DIM = 4
SCALE = 10.0
TEXT = {name: F.one_hot(torch.tensor(i), DIM).float() for i, name in enumerate(["a", "b", "c", "d"])}


class FakeTokenizer:
    def __init__(self):
        self.names = list(TEXT)

    def __call__(self, prompts, padding=True, truncation=True, return_tensors="pt"):
        ids = torch.tensor([[self.names.index(p)] for p in prompts])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


class FakeModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(SCALE)))
        self.text_calls = 0
        self.video_batches = []

    def get_text_features(self, input_ids, attention_mask=None):
        self.text_calls += 1
        return torch.stack([TEXT[FakeTokenizer().names[int(i)]] for i in input_ids[:, 0]])

    def get_video_features(self, pixel_values_videos):
        assert not self.training
        self.video_batches.append(pixel_values_videos.shape[0])
        return pixel_values_videos[:, 0, 0, 0, :DIM]


class FakeProcessor:
    """`views[path]`: (num_views, DIM) embeddings, repeated cyclically to num_clips * num_crops views."""

    def __init__(self, views):
        self.views = {path: torch.as_tensor(v, dtype=torch.float32).reshape(-1, DIM) for path, v in views.items()}
        self.tokenizer = FakeTokenizer()
        self.video_processor = SimpleNamespace(num_frames=2, image_mean=[0.5] * 3, image_std=[0.25] * 3)

    def __call__(self, videos, num_clips=1, num_crops=1, return_tensors="pt"):
        count = num_clips * num_crops
        frames = self.video_processor.num_frames
        pixels = torch.zeros(len(videos) * count, frames, 3, 6, 6)
        for v, path in enumerate(videos):
            table = self.views[path]
            for view in range(count):
                pixels[v * count + view, 0, 0, 0, :DIM] = table[view % len(table)]
        return {"pixel_values_videos": pixels}


def make_dataset(names, rows):
    """rows: list of (path, label[, motion_kind])."""
    data = {"video": [r[0] for r in rows], "label": [r[1] for r in rows]}
    features = {"video": Value("string"), "label": ClassLabel(names=names)}
    if len(rows[0]) > 2:
        data["motion_kind"] = [r[2] for r in rows]
        features["motion_kind"] = Value("string")
    return Dataset.from_dict(data, features=Features(features))


def test_views_combine_as_the_models_view_pooling_says():
    view0 = F.normalize(torch.tensor([1.0, 0.8, 0.0, 0.0]), dim=0)  # leans to "a"
    view1 = torch.tensor([0.0, 1.0, 0.0, 0.0])  # firmly "b"
    processor = FakeProcessor({"v": torch.stack([view0, view1])})
    model = FakeModel()
    dataset = make_dataset(["a", "b", "c"], [("v", 0)])

    one_view = evaluate_dataset(model, processor, dataset, templates="{}", progress=False)
    assert one_view.scores.argmax(dim=1).tolist() == [0]
    two_views = evaluate_dataset(model, processor, dataset, templates="{}", num_clips=2, progress=False)
    assert two_views.scores.argmax(dim=1).tolist() == [1]

    logits = SCALE * torch.stack([view0[:3], view1[:3]])
    expected = logits.mean(dim=0).softmax(dim=-1)
    torch.testing.assert_close(two_views.scores[0], expected)
    torch.testing.assert_close(two_views.logits[0], logits.mean(dim=0))
    assert two_views.class_names == ["a", "b", "c"] and two_views.labels.tolist() == [0]
    assert model.video_batches == [1, 2]
    # view_pooling="probabilities" (ViFi-CLIP / OST validate: the views' softmax summed), from the model's config
    model.config = SimpleNamespace(view_pooling="probabilities")
    by_probabilities = evaluate_dataset(model, processor, dataset, templates="{}", num_clips=2, progress=False)
    torch.testing.assert_close(by_probabilities.scores[0], logits.softmax(dim=-1).mean(dim=0))
    torch.testing.assert_close(by_probabilities.logits[0], logits.mean(dim=0))
    assert not torch.allclose(by_probabilities.scores[0], expected, atol=1e-3)
    explicit = evaluate_dataset(model, processor, dataset, templates="{}", num_clips=2, progress=False,
                                view_pooling="logits")
    torch.testing.assert_close(explicit.scores[0], expected)
    with pytest.raises(ValueError, match="view_pooling"):
        evaluate_dataset(model, processor, dataset, templates="{}", progress=False, view_pooling="vote")


def test_views_stay_with_their_video_across_batches():
    views = {"v0": [[1, 0, 0, 0], [0.9, 0.1, 0, 0]], "v1": [[0, 1, 0, 0], [0, 1, 0.2, 0]],
             "v2": [[0, 0, 1, 0], [0.1, 0, 1, 0]]}
    processor = FakeProcessor(views)
    model = FakeModel()
    dataset = make_dataset(["a", "b", "c"], [("v0", 0), ("v1", 1), ("v2", 2)])
    out = evaluate_dataset(model, processor, dataset, templates="{}", num_crops=2, batch_size=2, progress=False)
    assert out.scores.argmax(dim=1).tolist() == [0, 1, 2]
    assert model.video_batches == [4, 2]
    assert out.video_paths == ["v0", "v1", "v2"]
    torch.testing.assert_close(out.scores.sum(dim=1), torch.ones(3))
    assert out.examples == []


def test_misclassified_examples_and_motion_kinds():
    processor = FakeProcessor({"v0": [1, 0, 0, 0], "v1": [1, 0.5, 0, 0], "v2": [0, 0, 1, 0], "v3": [0, 0, 0.2, 1]})
    dataset = make_dataset(["a", "b", "c"], [("v0", 0, "direction-free"), ("v1", 1, "direction-pair"),
                                             ("v2", 2, "direction-pair"), ("v3", 1, "direction-pair")])
    bare = evaluate_dataset(FakeModel(), processor, dataset, templates="{}", progress=False)
    assert set(bare.metrics()) == {"top1", "top5"} and bare.groups is None  # groups come from the protocol
    out = evaluate_dataset(FakeModel(), processor, dataset, templates="{}", progress=False, group_column="motion_kind")
    metrics = out.metrics()
    assert metrics["top1"] == pytest.approx(0.5)
    assert metrics["top1_direction_free"] == pytest.approx(1.0)
    assert metrics["top1_direction_pair"] == pytest.approx(1 / 3)
    assert [e.video_path for e in out.examples] == ["v1", "v3"]
    example = out.examples[0]
    assert example.frames.dtype == torch.uint8 and example.frames.shape == (2, 6, 6, 3)
    assert example.label == 1 and example.top_indices[0] == 0 and len(example.top_indices) == 3
    assert example.top_scores == sorted(example.top_scores, reverse=True)


def test_num_frames_override_and_bad_inputs():
    processor = FakeProcessor({"v0": [1, 0, 0, 0]})
    dataset = make_dataset(["a", "b"], [("v0", 0)])
    out = evaluate_dataset(FakeModel(), processor, dataset, templates="{}", num_frames=5, progress=False)
    assert out.examples == [] and processor.video_processor.num_frames == 2  # the caller's processor is untouched
    with pytest.raises(ValueError, match="ClassLabel"):
        evaluate_dataset(FakeModel(), processor, Dataset.from_dict({"video": ["v0"], "label": [0]}), progress=False)
    with pytest.raises(ValueError, match="rows"):
        evaluate_dataset(FakeModel(), processor, dataset, text_embeds=torch.eye(3, DIM), progress=False)


def test_model_training_mode_is_restored():
    model = FakeModel().train()
    evaluate_dataset(model, FakeProcessor({"v0": [1, 0, 0, 0]}), make_dataset(["a", "b"], [("v0", 0)]),
                     templates="{}", progress=False)
    assert model.training


# ------------------------------------------------------------------------------------------------ protocols
VIDEOS = {  # embedding -> predicted class among a, b (base) or c, d (novel)
    "ba": [1, 0, 0, 0], "bb": [0, 1, 0, 0], "b?": [1, 0.5, 0, 0],
    "nc": [0, 0, 1, 0], "nd": [0, 0, 0, 1], "n?": [0, 0, 1, 0.5],
}


def b2n_protocol():
    base_names, novel_names = ["a", "b"], ["c", "d"]
    split0 = SimpleNamespace(name="split0", train=None, eval={
        # base: 3/4 right; novel: 1/2 right ("n?" labelled d, predicted c)
        "base": make_dataset(base_names, [("ba", 0, "direction-free"), ("bb", 1, "direction-pair"),
                                          ("b?", 0, "direction-free"), ("b?", 1, "direction-pair")]),
        "novel": make_dataset(novel_names, [("nc", 0, "direction-pair"), ("n?", 1, "direction-pair")]),
    })
    split1 = SimpleNamespace(name="split1", train=None, eval={
        # base: 2/2; novel: 1/2
        "base": make_dataset(base_names, [("ba", 0, "direction-free"), ("bb", 1, "direction-pair")]),
        "novel": make_dataset(novel_names, [("nd", 1, "direction-free"), ("n?", 1, "direction-pair")]),
    })
    return SimpleNamespace(name="fake-b2n", splits=[split0, split1], group_column="motion_kind")


def test_evaluate_protocol_b2n_results(tmp_path):
    model = FakeModel()
    results = evaluate_protocol(model, FakeProcessor(VIDEOS), b2n_protocol(), output_dir=tmp_path,
                                model_name="fake-model", templates="{}", batch_size=3, progress=False)
    assert set(results) == {"protocol", "model", "metrics", "per_split"}
    assert results["protocol"] == "fake-b2n" and results["model"] == "fake-model"
    assert [entry["split"] for entry in results["per_split"]] == ["split0", "split1"]
    assert all(set(entry) == {"split", "metrics", "num_classes"} for entry in results["per_split"])
    assert [entry["num_classes"] for entry in results["per_split"]] == [{"base": 2, "novel": 2}] * 2

    s0, s1 = (entry["metrics"] for entry in results["per_split"])
    assert s0["base_top1"] == pytest.approx(0.75) and s0["novel_top1"] == pytest.approx(0.5)
    assert s0["hm"] == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert s1["base_top1"] == pytest.approx(1.0) and s1["hm"] == pytest.approx(2 / 3)
    assert s0["base_top5"] == 1.0 and s0["novel_top5"] == 1.0
    assert s0["novel_top1_direction_pair"] == pytest.approx(0.5)
    assert s0["base_top1_direction_free"] == pytest.approx(1.0)
    assert s0["base_top1_direction_pair"] == pytest.approx(0.5)
    assert "top1" not in s0

    metrics = results["metrics"]
    for key in ("base_top1", "novel_top1", "hm", "base_top1_std", "novel_top1_std", "hm_std"):
        assert key in metrics
    assert metrics["hm"] == pytest.approx((0.6 + 2 / 3) / 2)
    assert metrics["hm_std"] == pytest.approx(abs(0.6 - 2 / 3) / math.sqrt(2))
    assert metrics["base_top1_std"] == pytest.approx(0.25 / math.sqrt(2))
    assert metrics["novel_top1_std"] == pytest.approx(0.0)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert model.text_calls == 2  # once per vocabulary, not per split

    # Files: results.json (the public format), results.md, one PNG per split.
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == results
    assert load_results(tmp_path) == results
    table = (tmp_path / "results.md").read_text()
    assert "| split0 |" in table and "mean ± std" in table and "hm" in table
    assert "base_top5" not in table  # 2 classes: a top-5 is always 100 %
    assert "- `hm`: harmonic mean" in table and "- `novel_top1`: top-1 accuracy on the novel classes" in table
    # one split: no "± 0.0"; a baseline row when the results hold the starting model's zero-shot metrics
    from hfvideoclip.evaluation.results import format_results_markdown

    one = {**results, "per_split": results["per_split"][:1],
           "baseline": {"model": "start", "metrics": {"base_top1": 0.5, "novel_top1": 0.25, "hm": 1 / 3}}}
    text = format_results_markdown(one)
    assert "±" not in text and "| zero-shot, starting model | 50.0 | 25.0 | 33.3 |" in text and "`start`" in text
    for split in ("split0", "split1"):
        with Image.open(tmp_path / f"plot_{split}.png") as image:
            image.verify()
        with Image.open(tmp_path / f"plot_{split}.png") as image:
            assert image.format == "PNG" and image.width >= 600 and image.height >= 300


def test_evaluate_protocol_single_test_set():
    splits = [SimpleNamespace(name=f"split{i}", train=None, eval={"test": make_dataset(["a", "b", "c"], rows)})
              for i, rows in enumerate([[("ba", 0), ("bb", 1)], [("ba", 0), ("b?", 1)], [("nc", 2), ("b?", 1)]])]
    results = evaluate_protocol(FakeModel(), FakeProcessor(VIDEOS), SimpleNamespace(name="fake-xd", splits=splits),
                                model_name="m", templates="{}", progress=False)
    assert [e["metrics"]["top1"] for e in results["per_split"]] == pytest.approx([1.0, 0.5, 0.5])
    assert results["metrics"]["top1"] == pytest.approx(2 / 3)
    assert results["metrics"]["top1_std"] == pytest.approx(math.sqrt(((1 / 3) ** 2 + 2 * (1 / 6) ** 2) / 2))
    assert set(results["metrics"]) == {"top1", "top5", "top1_std", "top5_std"}


def test_split_and_aggregate_metrics_naming():
    assert aggregate_metrics([{"top1": 0.5}, {"top1": 0.7}]) == pytest.approx(
        {"top1": 0.6, "top1_std": math.sqrt(0.02)})
    with pytest.raises(ValueError):
        split_metrics({})


def test_attribute_accuracy_counts_the_right_attribute_with_the_wrong_class():
    from hfvideoclip.evaluation.harness import EvalOutput, attribute_accuracy

    # classes: 0 = circle left, 1 = circle right, 2 = star left
    shapes = ["circle", "circle", "star", "star"]
    motions = ["left", "right", "left", "left"]
    labels = torch.tensor([0, 1, 2, 2])
    predicted = torch.tensor([1, 1, 0, 2])  # wrong (same shape), right, wrong (same motion), right
    scores = F.one_hot(predicted, 3).float()
    assert attribute_accuracy(scores, labels, shapes) == pytest.approx(3 / 4)
    assert attribute_accuracy(scores, labels, motions) == pytest.approx(3 / 4)
    assert attribute_accuracy(scores, labels, ["bg"] * 4) is None  # one value for every class
    assert attribute_accuracy(scores, labels, ["a", "b", "c", "d"]) is None  # class 2's videos disagree
    output = EvalOutput(scores=scores, labels=labels, class_names=["x", "y", "z"], video_paths=list("abcd"),
                        attributes={"shape": shapes, "motion": motions})
    metrics = output.metrics("novel_")
    assert metrics["novel_top1"] == pytest.approx(0.5)
    assert metrics["novel_shape_top1"] == pytest.approx(0.75) and metrics["novel_motion_top1"] == pytest.approx(0.75)


# ------------------------------------------------------------------------------------------ protocol metrics
def test_toy_protocol_metric_names_come_from_the_protocol():
    from hfvideoclip.data import ProtocolData, ProtocolSplit
    from hfvideoclip.toy.protocols import GROUP_COLUMN, METRIC_COLUMNS

    # classes: a = red circle left, b = red star left, c = blue circle right, d = blue star right
    attrs = {"a": ("red", "circle", "left"), "b": ("red", "star", "left"), "c": ("blue", "circle", "right"),
             "d": ("blue", "star", "right")}
    videos = [("v0", "a", [1, 0, 0, 0]), ("v1", "b", [1, 0.5, 0, 0]), ("v2", "c", [0, 0, 1, 0]),
              ("v3", "d", [0, 0, 1, 0.5])]  # v1 -> a (same colour, motion), v3 -> c (same colour, motion)
    names = list(attrs)
    data = {"video": [v for v, _, _ in videos], "label": [names.index(c) for _, c, _ in videos],
            "colour": [attrs[c][0] for _, c, _ in videos], "shape": [attrs[c][1] for _, c, _ in videos],
            "motion": [attrs[c][2] for _, c, _ in videos],
            "motion_kind": ["direction-free", "direction-free", "direction-pair", "direction-pair"]}
    features = Features({"video": Value("string"), "label": ClassLabel(names=names),
                         **{k: Value("string") for k in ("colour", "shape", "motion", "motion_kind")}})
    dataset = Dataset.from_dict(data, features=features)
    processor = FakeProcessor({v: e for v, _, e in videos})
    protocol = ProtocolData("toy-like", [ProtocolSplit("split1", None, {"test": dataset})],
                            metric_columns=METRIC_COLUMNS, group_column=GROUP_COLUMN)
    metrics = evaluate_protocol(FakeModel(), processor, protocol, templates="{}", progress=False,
                                plot=False)["per_split"][0]["metrics"]
    assert metrics == pytest.approx({"top1": 0.5, "top5": 1.0, "top1_direction_free": 0.5, "top1_direction_pair": 0.5,
                                     "colour_top1": 1.0, "shape_top1": 0.5, "motion_top1": 1.0})
    plain = ProtocolData("plain", protocol.splits)  # no metric columns: plain top-1 / top-5 only
    assert set(evaluate_protocol(FakeModel(), processor, plain, templates="{}", progress=False,
                                 plot=False)["metrics"]) == {"top1", "top5", "top1_std", "top5_std"}


def test_pair_vs_partner_scores_an_action_against_its_reverse():
    from hfvideoclip.data import ProtocolData, ProtocolSplit
    from hfvideoclip.evaluation.harness import pair_vs_partner

    names = ["circle left", "circle right", "star left", "star still"]
    partners = {"circle left": "circle right", "circle right": "circle left", "star left": "star right"}
    videos = [("v0", 0, [1, 0.9, 0, 0]),    # own 1.0 > partner 0.9: right
              ("v1", 1, [0.2, 0.1, 0.9, 0]),  # own 0.1 < partner 0.2: wrong (and top-1 is another class)
              ("v2", 2, [0, 0, 1, 0]),        # partner "star right" is not in the vocabulary: not counted
              ("v3", 3, [0, 0, 0, 1])]        # no partner
    features = Features({"video": Value("string"), "label": ClassLabel(names=names)})
    dataset = Dataset.from_dict({"video": [v for v, _, _ in videos], "label": [c for _, c, _ in videos]}, features)
    processor = FakeProcessor({v: e for v, _, e in videos})
    processor.tokenizer.names = names  # class i embeds to the i-th one-hot vector
    protocol = ProtocolData("pairs", [ProtocolSplit("split1", None, {"test": dataset})], partner_classes=partners)
    metrics = evaluate_protocol(FakeModel(), processor, protocol, templates="{}", progress=False,
                                plot=False)["per_split"][0]["metrics"]
    assert metrics["pair_vs_partner"] == pytest.approx(0.5) and metrics["top1"] == pytest.approx(0.75)
    plain = evaluate_protocol(FakeModel(), processor, ProtocolData("plain", protocol.splits), templates="{}",
                              progress=False, plot=False)["metrics"]
    assert "pair_vs_partner" not in plain
    scores = torch.tensor([[2.0, 2.0], [1.0, 3.0], [3.0, 1.0]])
    assert pair_vs_partner(scores, torch.tensor([0, 1, 1]), {0: 1, 1: 0}) == pytest.approx(1 / 3)  # a tie is wrong
    assert pair_vs_partner(scores, torch.tensor([0, 1, 1]), {}) is None


def test_toy_partner_classes_pair_each_direction_with_its_reverse():
    from hfvideoclip.toy.world import MOTIONS, motion_shape_name, partner_class_names

    partners = partner_class_names()
    assert partners[motion_shape_name("circle", "moving left")] == motion_shape_name("circle", "moving right")
    assert partners["a red star growing"] == "a red star shrinking"
    assert all(partners[partner] == name for name, partner in partners.items())
    assert not any(name.endswith(MOTIONS["rotating"].phrase) for name in partners)


# ------------------------------------------------------------------------------------------------ sharding
@pytest.mark.parametrize("num_items", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("num_processes", [2, 3])
def test_shard_range_covers_everything_in_order(num_items, num_processes):
    from hfvideoclip.evaluation.harness import shard_range

    shards = [shard_range(num_items, rank, num_processes) for rank in range(num_processes)]
    assert [i for shard in shards for i in shard] == list(range(num_items))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    with pytest.raises(ValueError):
        shard_range(num_items, num_processes, num_processes)


def test_two_process_evaluation_gathers_the_whole_output(monkeypatch):
    """Rank 1 then rank 0 of a 2-process run, with the gather replayed: each scores only its shard and rank 0
    returns what a single process returns."""
    from hfvideoclip.evaluation import harness

    views = {f"v{i}": torch.eye(DIM)[i % 3] + 0.1 * i for i in range(5)}
    dataset = make_dataset(["a", "b", "c"], [(f"v{i}", (i + i // 3) % 3) for i in range(5)])
    single = evaluate_dataset(FakeModel(), FakeProcessor(views), dataset, templates="{}", progress=False,
                              batch_size=2)

    parts = {}
    for rank in (1, 0):
        model = FakeModel()
        monkeypatch.setattr(harness, "_process_layout", lambda distributed, rank=rank: (rank, 2))
        # rank 1 only records its part (its own result is not checked); rank 0 receives both parts in rank order
        monkeypatch.setattr(harness, "_gather", lambda value, n, rank=rank: (
            parts.__setitem__(rank, value) or ([value] if rank == 1 else [parts[0], parts[1]])))
        out = evaluate_dataset(model, FakeProcessor(views), dataset, templates="{}", progress=False, batch_size=2)
        assert sum(model.video_batches) == (3 if rank == 1 else 2)  # rows 0-1 on rank 0, rows 2-4 on rank 1
    assert parts[0][1].tolist() == single.labels[:2].tolist() and parts[1][1].tolist() == single.labels[2:].tolist()
    torch.testing.assert_close(out.logits, single.logits)
    torch.testing.assert_close(out.scores, single.scores)
    assert out.labels.tolist() == single.labels.tolist() and out.video_paths == single.video_paths
    assert [e.video_path for e in out.examples] == [e.video_path for e in single.examples]


def test_views_come_in_the_models_dtype_when_it_is_16_bit(monkeypatch):
    """A bfloat16 model gets its views collated in bfloat16 (half the bytes from the workers and to the device);
    the scores equal those of float32 views cast by the harness."""
    from hfvideoclip.evaluation import harness

    made = []

    class Recording(harness.VideoClipCollator):
        def __call__(self, rows):
            batch = super().__call__(rows)
            made.append(batch["pixel_values_videos"].dtype)
            return batch

    class TypedModel(FakeModel):
        @property
        def dtype(self):  # as PreTrainedModel.dtype
            return self.logit_scale.dtype

    monkeypatch.setattr(harness, "VideoClipCollator", Recording)
    views = {"v0": [1, 0, 0, 0], "v1": [0, 2, 0, 0], "v2": [0, 0, 0, 3]}
    dataset = make_dataset(["a", "b", "c", "d"], [("v0", 0), ("v1", 1), ("v2", 2)])
    scores = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = TypedModel().to(dtype)
        out = evaluate_dataset(model, FakeProcessor(views), dataset, templates="{}", progress=False, num_workers=0)
        scores[dtype] = out.logits
        assert made[-1] == dtype
    assert torch.equal(scores[torch.float32].argmax(-1), scores[torch.bfloat16].argmax(-1))
