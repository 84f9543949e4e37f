"""`torch.compile` on VideoClipModel (tiny configs, CPU): no graph breaks in any temporal mode, compiled towers equal
eager, new batch sizes and class counts do not recompile once shapes are dynamic, and a compiled model keeps its
weights' names, saves and reloads.

The backend here is `aot_eager` (dynamo + AOTAutograd, no code generation): what can break a graph or force a
recompile is decided by dynamo, identically for every backend. The inductor run is in
tests/training/test_torch_compile_training.py, in a child process."""

import pytest
import torch
from test_modeling_video_clip import FRAMES, TEXT  # the tiny configs of the modeling tests
from test_modeling_video_clip import VISION as MODELING_VISION
from torch._dynamo.utils import counters
from transformers import CLIPConfig, CLIPModel

import hfvideoclip  # noqa: F401  (registers the Auto classes)
from hfvideoclip import VideoClipModel

VISION = {**MODELING_VISION, "patch_size": 6}  # 25 patches a frame: quick to compile


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip")
    CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=24)).save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def videos(batch, seed=1):
    return torch.randn(batch, FRAMES, 3, 30, 30, generator=torch.Generator().manual_seed(seed))


def text_ids(n, seed=2):
    ids = torch.randint(1, 97, (n, 7), generator=torch.Generator().manual_seed(seed))
    ids[:, 0], ids[:, -1] = 97, 98
    return ids


def unique_graphs() -> int:
    return int(counters["stats"]["unique_graphs"])


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
def test_forward_and_loss_have_no_graph_breaks(clip_dir, mode):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES)
    model.train()
    explained = torch._dynamo.explain(model)(input_ids=text_ids(3), pixel_values_videos=videos(2),
                                             labels=torch.tensor([0, 2]))
    assert explained.graph_break_count == 0, [str(reason) for reason in explained.break_reasons]
    assert explained.graph_count == 1


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
@pytest.mark.parametrize("regional", [True, False])
def test_compiled_towers_equal_eager_without_recompiling_per_batch(clip_dir, mode, regional):
    eager = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).eval()
    compiled = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).eval()
    assert compiled.compile_towers(regional=regional, backend="aot_eager") is compiled
    graphs_after_warmup = None
    # Two sizes warm up (the second marks the batch and class axes dynamic); later sizes must reuse the graphs.
    for step, (batch, classes) in enumerate([(2, 3), (3, 5), (4, 4), (5, 7), (6, 2)]):
        with torch.no_grad():
            expected = eager(input_ids=text_ids(classes, step), pixel_values_videos=videos(batch, step))
            actual = compiled(input_ids=text_ids(classes, step), pixel_values_videos=videos(batch, step))
        torch.testing.assert_close(actual.logits_per_video, expected.logits_per_video, atol=1e-5, rtol=1e-5)
        if step == 1:
            graphs_after_warmup = unique_graphs()
    assert graphs_after_warmup and unique_graphs() == graphs_after_warmup, (
        f"recompiled after warm-up: {graphs_after_warmup} -> {unique_graphs()} graphs")


def test_regional_compile_compiles_every_block_and_keeps_the_model_whole(clip_dir, tmp_path):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES)
    keys = list(model.state_dict())
    model.compile_towers(backend="aot_eager")
    text_blocks = [m for m in model.text_model.modules() if type(m).__name__ == "CLIPEncoderLayer"]
    blocks = list(model.vision_model.encoder.layers) + text_blocks
    assert len(blocks) == 4 and all(block._compiled_call_impl is not None for block in blocks)
    assert model.vision_model._compiled_call_impl is None  # regional: the code between blocks stays eager
    assert isinstance(model, VideoClipModel) and list(model.state_dict()) == keys
    with torch.no_grad():
        before = model.get_video_features(pixel_values_videos=videos(2))
    model.save_pretrained(tmp_path)
    reloaded = VideoClipModel.from_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.get_video_features(pixel_values_videos=videos(2)), before)


def test_compiled_backward_equals_eager(clip_dir):
    eager = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES).train()
    compiled = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES).train()
    compiled.compile_towers(backend="aot_eager")
    for model in (eager, compiled):
        model(input_ids=text_ids(3), pixel_values_videos=videos(2), labels=torch.tensor([1, 2])).loss.backward()
    for (name, expected), actual in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(actual.grad, expected.grad, atol=1e-5, rtol=1e-4, msg=name)
