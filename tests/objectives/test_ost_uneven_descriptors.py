"""OST with uneven descriptor counts: padded descriptor sets with boolean masks (masked optimal transport).

The official code (tomchen-ctj/OST, `trainers/OST.py`) stacks equal-sized descriptor sets; LLM-written files are
rarely even, and a label missing from a descriptor map takes the template fallback with its own count. A padded
column gets kernel 0 and marginal 0, so a padded label scores exactly as its unpadded set alone.
"""

import datetime
import json
import os
import socket

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from testing_common import write_tiny_clip
from transformers import pipeline

import hfvideoclip  # noqa: F401  (registers the pipeline)
from hfvideoclip import VideoClipModel, VideoClipProcessor
from hfvideoclip.methods.ost.loss import (
    gather_batch,
    optimal_descriptor_logits,
    optimal_descriptor_scores,
    ost_contrastive_loss,
    sinkhorn,
)
from hfvideoclip.models.video_clip import VideoClipDescriptorBank
from hfvideoclip.models.video_clip.class_banks import class_bank_for
from hfvideoclip.text.class_embeddings import class_bank
from hfvideoclip.text.descriptor_generation import template_texts
from hfvideoclip.toy.encode import write_mp4

WORDS = ["a", "video", "of", "photo", "red", "blue", "green", "circle", "square", "moving", "left", "right", "."]
CLASSES = ["red circle moving left", "blue square moving right"]


def _unit(*shape, seed):
    g = torch.Generator().manual_seed(seed)
    x = 0.5 + torch.randn(*shape, generator=g, dtype=torch.float64)  # a common offset: CLIP-like cosines
    return x / x.norm(dim=-1, keepdim=True)


# ------------------------------------------------------------------------------------------------ maths
def test_padded_label_plan_and_logits_equal_the_unpadded_label_alone():
    frames = _unit(3, 8, 16, seed=0)  # (B, T, D)
    spatial, temporal = _unit(1, 1, 16, seed=1), _unit(1, 3, 16, seed=2)  # one label: N_s = 1, N_t = 3
    garbage = _unit(1, 3, 16, seed=3)  # padding rows: anything finite, masked out
    padded_spatial = torch.cat([spatial, garbage], dim=1)  # (1, 4, D)
    padded_temporal = torch.cat([temporal, garbage[:, :1]], dim=1)  # (1, 4, D)
    spatial_mask = torch.tensor([[True, False, False, False]])
    temporal_mask = torch.tensor([[True, True, True, False]])

    cost = 1.0 - torch.einsum("btd,knd->bktn", frames, padded_temporal)
    plan = sinkhorn(cost, column_mask=temporal_mask)
    alone = sinkhorn(cost[..., :3])
    assert torch.isfinite(plan).all() and (plan[..., 3] == 0).all()
    torch.testing.assert_close(plan[..., :3], alone, rtol=0, atol=1e-6)
    torch.testing.assert_close(plan.sum(-2)[..., :3], torch.full((3, 1, 3), 1 / 3, dtype=plan.dtype),
                               rtol=0, atol=1e-9)  # real columns: marginal 1/N_k

    for dtype in (torch.float64, torch.float32):
        scale = torch.tensor(4.6, dtype=dtype)
        masked = optimal_descriptor_logits(frames.to(dtype), padded_spatial.to(dtype), padded_temporal.to(dtype),
                                           scale, spatial_mask=spatial_mask, temporal_mask=temporal_mask)
        expected = optimal_descriptor_logits(frames.to(dtype), spatial.to(dtype), temporal.to(dtype), scale)
        torch.testing.assert_close(masked, expected, rtol=0, atol=1e-6 * float(scale.exp()))
        torch.testing.assert_close(masked / scale.exp(), expected / scale.exp(), rtol=0, atol=1e-6)


def test_padded_label_among_others_scores_as_alone_and_pads_take_no_gradient():
    """With a fixed number of iterations (tol=0) each (video, label) problem is independent of the batch: a padded
    label in a bank of counts [1, 4] scores as its unpadded set alone; padded rows get exactly zero gradient."""
    frames = _unit(2, 6, 16, seed=4)
    short, full = _unit(1, 1, 16, seed=5), _unit(1, 4, 16, seed=6)
    bank = torch.cat([torch.cat([short, short.expand(1, 3, 16)], dim=1), full]).requires_grad_(True)  # (2, 4, D)
    mask = torch.tensor([[True, False, False, False], [True, True, True, True]])
    scores = optimal_descriptor_scores(frames, bank, tol=0.0, descriptor_mask=mask)
    torch.testing.assert_close(scores[:, :1], optimal_descriptor_scores(frames, short, tol=0.0), rtol=0, atol=1e-6)
    torch.testing.assert_close(scores[:, 1:], optimal_descriptor_scores(frames, full, tol=0.0), rtol=0, atol=1e-6)
    scores.sum().backward()
    assert torch.isfinite(bank.grad).all() and (bank.grad[0, 1:] == 0).all() and bank.grad[0, 0].abs().sum() > 0


def test_masked_sinkhorn_stays_finite_and_an_all_true_mask_is_the_official_computation():
    g = torch.Generator().manual_seed(7)
    cost = 2.0 * torch.rand(2, 3, 5, 4, generator=g)
    mask = torch.tensor([[True, False, True, False], [True, True, True, True], [False, False, True, False]])
    for epsilon in (0.1, 0.002):  # a tiny epsilon: kernels underflow in float32
        plan = sinkhorn(cost, epsilon=epsilon, column_mask=mask)
        assert torch.isfinite(plan).all() and (plan.masked_select(~mask[:, None, :]) == 0).all()
    assert torch.equal(sinkhorn(cost, column_mask=torch.ones(3, 4, dtype=torch.bool)), sinkhorn(cost))
    frames, descriptors = _unit(2, 5, 8, seed=8).float(), _unit(3, 4, 8, seed=9).float()
    assert torch.equal(optimal_descriptor_scores(frames, descriptors, descriptor_mask=torch.ones(3, 4, dtype=bool)),
                       optimal_descriptor_scores(frames, descriptors))
    with pytest.raises(ValueError, match="at least one descriptor"):
        sinkhorn(cost, column_mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="descriptor_mask has shape"):
        optimal_descriptor_scores(frames, descriptors, descriptor_mask=torch.ones(3, 3, dtype=torch.bool))


def test_descriptor_bank_masks_follow_indexing_and_devices():
    bank = VideoClipDescriptorBank(torch.randn(3, 4, 8), torch.randn(3, 2, 8),
                                   torch.tensor([[1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool), None)
    picked = bank[torch.tensor([2, 0, 2])].float().to("cpu", torch.float64)
    assert picked.spatial.dtype == torch.float64 and picked.spatial_mask.dtype == torch.bool
    assert picked.spatial_mask.tolist() == [[True, True, False, False], [True, False, False, False],
                                            [True, True, False, False]]
    assert picked.temporal_mask is None
    with pytest.raises(ValueError, match="spatial_mask must be a bool tensor"):
        VideoClipDescriptorBank(torch.randn(3, 4, 8), torch.randn(3, 2, 8), torch.ones(3, 4))


# ------------------------------------------------------------------------------------------------ models
@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return write_tiny_clip(tmp_path_factory.mktemp("clip"), words=WORDS)


def _model_dir(clip_dir, folder, scoring_head):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=4)
    model.set_scoring_head(scoring_head)
    model.save_pretrained(folder)
    VideoClipProcessor.from_pretrained(clip_dir).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    rows = {"video": [], "label": []}
    for index in range(4):
        label = index % 2
        frames = np.zeros((8, 16, 16, 3), np.uint8)
        frames[..., label * 2] = 200
        for t in range(8):
            frames[t, 4:10, (t if label else 7 - t):(t if label else 7 - t) + 6] = rng.integers(0, 255, 3)
        write_mp4(frames, folder / f"v{index}.mp4", fps=8)
        rows["video"].append(str(folder / f"v{index}.mp4"))
        rows["label"].append(label)
    return Dataset.from_dict(rows, features=Features({"video": Value("string"), "label": ClassLabel(names=CLASSES)}))


UNEVEN = {"red circle moving left": {"spatial": ["red circle"], "temporal": ["moving", "left", "a red circle", "."]},
          "blue square moving right": {"spatial": ["blue", "square", "a blue square", "right"],
                                       "temporal": ["moving right"]}}


def test_bank_with_counts_1_and_4_and_a_missing_label_builds_and_scores(clip_dir, dataset, tmp_path):
    folder = _model_dir(clip_dir, tmp_path / "ost", "optimal_descriptor")
    model = VideoClipModel.from_pretrained(folder).eval()
    tokenizer = VideoClipProcessor.from_pretrained(folder).tokenizer
    labels = [*CLASSES, "green square"]  # the last one is missing from the map: template fallback
    bank = class_bank(model, tokenizer, labels, descriptors=UNEVEN)
    assert bank.spatial.shape[:2] == (3, 4) and bank.spatial_mask.sum(1).tolist() == [1, 4, 4]
    assert bank.temporal_mask.sum(1).tolist() == [4, 1, 4]
    fallback = {"green square": {kind: template_texts("ost", kind, "green square", 4) for kind in UNEVEN[CLASSES[0]]}}
    alone = class_bank_for(model, tokenizer, ["green square"], descriptors=fallback)
    torch.testing.assert_close(bank.spatial[2], alone.spatial[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(bank.temporal[2], alone.temporal[0], rtol=0, atol=1e-5)
    with torch.no_grad():
        video, frames = model.get_video_features(pixel_values_videos=torch.rand(2, 4, 3, 16, 16),
                                                 return_frame_embeds=True)
        logits = model.compute_logits(video, bank, frame_embeds=frames)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()

    clf = pipeline("zero-shot-video-classification", model=folder)
    ranked = clf(dataset["video"][0], candidate_labels=labels, descriptors=UNEVEN)
    assert sorted(r["label"] for r in ranked) == sorted(labels)
    assert abs(sum(r["score"] for r in ranked) - 1) < 1e-5


def test_descriptors_for_a_cosine_model_are_an_error_not_ignored(clip_dir, dataset, tmp_path):
    folder = _model_dir(clip_dir, tmp_path / "cosine", "cosine")
    model = VideoClipModel.from_pretrained(folder).eval()
    tokenizer = VideoClipProcessor.from_pretrained(folder).tokenizer
    for call in (lambda: class_bank(model, tokenizer, CLASSES, descriptors=UNEVEN),
                 lambda: class_bank_for(model, tokenizer, CLASSES, descriptors=UNEVEN),
                 lambda: pipeline("zero-shot-video-classification", model=folder)(
                     dataset["video"][0], candidate_labels=CLASSES, descriptors=UNEVEN)):
        with pytest.raises(ValueError, match=r"descriptors= applies only to .*'optimal_descriptor'") as error:
            call()
        assert "\n" not in str(error.value) and "'cosine'" in str(error.value)


# ------------------------------------------------------------------------------------------------ training
def test_ost_training_step_with_uneven_descriptor_files(clip_dir, dataset, tmp_path):
    from hfvideoclip.methods.ost.objective import OstConfig
    from hfvideoclip.training.arguments import VideoClipTrainingArguments
    from hfvideoclip.training.builder import build_trainer

    spatial, temporal = tmp_path / "spatial.json", tmp_path / "temporal.json"
    spatial.write_text(json.dumps({"0": ["red circle"], "1": ["blue", "square", "a blue square", "right"]}))
    temporal.write_text(json.dumps({"0": ["moving", "left"], "1": ["moving right", ".", "square", "blue", "a"]}))
    args = VideoClipTrainingArguments(output_dir=str(tmp_path / "run"), method="ost", num_frames=4, templates="single",
                                      max_steps=1, per_device_train_batch_size=4, learning_rate=1e-3,
                                      logging_steps=1, save_strategy="no", report_to="none", seed=7,
                                      disable_tqdm=True, use_cpu=True, dataloader_num_workers=0)
    config = OstConfig(spatial_descriptors_file=str(spatial), temporal_descriptors_file=str(temporal))
    trainer = build_trainer(args, clip_dir, dataset, method_config=config)
    objective = trainer.model
    assert objective.spatial_descriptor_mask.sum(1).tolist() == [1, 4]
    assert objective.temporal_descriptor_mask.sum(1).tolist() == [2, 5]

    batch = trainer.data_collator([dataset[i] for i in range(4)])
    loss = objective(batch["pixel_values_videos"], batch["labels"])["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in objective.student.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    objective.zero_grad(set_to_none=True)

    result = trainer.train()
    assert np.isfinite(result.training_loss)
    trainer.save_model(str(tmp_path / "export"))
    table = json.loads((tmp_path / "export" / "descriptors.json").read_text())
    assert [len(table[name]["spatial"]) for name in CLASSES] == [1, 4]


# ------------------------------------------------------------------------------------------------ two processes
def _uneven_batch():
    """8 videos' frames, their labels' padded descriptor sets (counts per label: spatial [1, 4, 2], temporal
    [3, 1, 4]) and masks, per video (duplicates included, as the official training step gathers them)."""
    labels = torch.tensor([0, 2, 1, 0, 2, 1, 1, 0])
    spatial_counts, temporal_counts = torch.tensor([1, 4, 2]), torch.tensor([3, 1, 4])
    spatial_mask = torch.arange(4) < spatial_counts[:, None]  # (3, 4)
    temporal_mask = torch.arange(4) < temporal_counts[:, None]
    frames, spatial, temporal = _unit(8, 6, 16, seed=10), _unit(3, 4, 16, seed=11), _unit(3, 4, 16, seed=12)
    return frames, spatial[labels], temporal[labels], labels, spatial_mask[labels], temporal_mask[labels]


def _global_loss(frames, spatial, temporal, labels, spatial_mask, temporal_mask):
    """As `OstObjective.loss`: masks travel through the gather as uint8 with each video's descriptor sets."""
    frames, spatial, temporal, labels, spatial_mask, temporal_mask = gather_batch(
        frames, spatial, temporal, labels, spatial_mask.to(torch.uint8), temporal_mask.to(torch.uint8))
    logits = optimal_descriptor_logits(frames, spatial, temporal, torch.tensor(4.6, dtype=frames.dtype),
                                       spatial_mask=spatial_mask.bool(), temporal_mask=temporal_mask.bool())
    return ost_contrastive_loss(logits, labels, text_labels=labels)


def _worker(rank, port, out_dir):
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=60))
    try:
        start, size = (0, 5) if rank == 0 else (5, 3)
        loss = _global_loss(*(x[start:start + size] for x in _uneven_batch()))
        torch.save(loss.detach(), os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.timeout(180)
def test_masks_travel_with_the_descriptor_sets_through_the_all_gather(tmp_path):
    import torch.multiprocessing as mp

    expected = _global_loss(*_uneven_batch())  # one process, the whole batch
    assert torch.isfinite(expected)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.start_processes(_worker, args=(port, str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    for rank in range(2):
        torch.testing.assert_close(torch.load(tmp_path / f"rank{rank}.pt"), expected.detach(), rtol=1e-10, atol=0)
