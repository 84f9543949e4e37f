"""`--torch_compile` in training: every method trains with compiled towers to the same weights as eager (CPU,
tiny CLIP), the evaluator scores with the compiled student, and accelerate does not wrap the objective a second time.

The fast tests use the `aot_eager` backend (dynamo + AOTAutograd: the graphs, breaks and guards the GPU run gets,
without code generation). The inductor test runs in a child process: inductor starts compile worker processes and
thread pools, and a process that has them should not later fork (toy-world generation and DataLoader workers fork).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from hfvideoclip.training.builder import build_trainer

# method -> extra settings (as in test_trainer.py) so that each method's own path runs
METHODS = {
    "ce": {},
    "open_vclip": dict(adaptation="frozen_text", patch_alpha=0.5),
    "froster": {},
    "taco": {},
    "open_mede": dict(gwa=True),
    "ost": {},
    # dropout off: a compiled graph draws its dropout masks from another random stream than eager
    "msta": dict(adaptation="msta", msta_dim=8, msta_scale=0.5, msta_dropout=0.0),
    "ce+lora": dict(adaptation="lora"),
}


def train(make_args, tmp_path, method, clip_dir, dataset, **overrides):
    name = method.split("+")[0]
    args, config = make_args(tmp_path, name, max_steps=3, **{**METHODS[method], **overrides})
    trainer = build_trainer(args, clip_dir, dataset, method_config=config)
    trainer.train()
    return trainer


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("method", list(METHODS))
def test_compiled_training_equals_eager(clip_dir, dataset, tmp_path, make_args, method):
    eager = train(make_args, tmp_path / "eager", method, clip_dir, dataset)
    compiled = train(make_args, tmp_path / "compiled", method, clip_dir, dataset, torch_compile=True,
                     torch_compile_backend="aot_eager")
    layers = [m for m in compiled.model.modules() if type(m).__name__.endswith("EncoderLayer")]
    assert layers and all(m._compiled_call_impl is not None for m in layers)
    # accelerate's own dynamo wrapper is off: the Trainer trains the objective module itself
    assert compiled.model is compiled.objective
    expected = dict(eager.model.named_parameters())
    for name, actual in compiled.model.named_parameters():
        torch.testing.assert_close(actual, expected[name], atol=2e-5, rtol=1e-4, msg=f"{method}: {name}")
    eager_log = [e for e in eager.state.log_history if "loss" in e]
    compiled_log = [e for e in compiled.state.log_history if "loss" in e]
    assert [set(e) for e in eager_log] == [set(e) for e in compiled_log]
    for a, b in zip(eager_log, compiled_log):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)


def test_compiled_student_evaluates_like_eager(clip_dir, dataset, tmp_path, make_args):
    scores = []
    for name, extra in (("eager", {}), ("compiled", dict(torch_compile=True, torch_compile_backend="aot_eager"))):
        args, config = make_args(tmp_path / name, "ce", max_steps=1, **extra)
        trainer = build_trainer(args, clip_dir, dataset, {"base": dataset}, method_config=config)
        trainer.train()
        scores.append(trainer.evaluate())
    assert scores[0]["eval_base_top1"] == scores[1]["eval_base_top1"]


def test_terms_are_summed_on_the_device_and_logged_as_their_mean(clip_dir, dataset, tmp_path, make_args):
    args, config = make_args(tmp_path, "froster", max_steps=4, logging_steps=2)
    trainer = build_trainer(args, clip_dir, dataset, method_config=config)
    seen = []
    original = trainer.record_terms

    def spy(outputs):
        seen.append({k: float(v) for k, v in outputs.items() if k != "loss"})
        original(outputs)
        assert all(torch.is_tensor(v) for v in trainer._term_sums.values())
    trainer.record_terms = spy
    trainer.train()
    logs = [e for e in trainer.state.log_history if "distill_vision" in e]
    assert len(logs) == 2 and len(seen) == 4
    for log, pair in zip(logs, (seen[:2], seen[2:])):
        # logged values are rounded to 6 decimals
        assert log["distill_vision"] == pytest.approx(sum(s["distill_vision"] for s in pair) / 2, rel=1e-5, abs=1e-6)


@pytest.mark.slow
def test_inductor_compiled_training_equals_eager_in_a_child_process(clip_dir, dataset, tmp_path):
    """Inductor (generated C++ kernels on the CPU) trains `taco` (student, EMA teacher, heads) to eager's weights.
    Plain SGD: inductor's fused kernels round differently, and Adam's first steps (update ~ sign of the gradient)
    would turn those last-bit differences into full-size updates of the near-zero gradients."""
    videos = tmp_path / "videos.json"
    videos.write_text(json.dumps({"video": list(dataset["video"]), "label": list(dataset["label"]),
                                  "names": dataset.features["label"].names}))
    script = textwrap.dedent(f"""
        import json, sys, torch
        from datasets import ClassLabel, Dataset, Features, Value
        sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
        from testing_common import make_run_args
        from hfvideoclip.training.builder import build_trainer

        rows = json.load(open({str(videos)!r}))
        features = Features({{"video": Value("string"), "label": ClassLabel(names=rows.pop("names"))}})
        dataset = Dataset.from_dict(rows, features=features)
        params, initial = [], None
        for name, extra in (("eager", {{}}), ("inductor", {{"torch_compile": True}})):
            args, config = make_run_args({str(tmp_path)!r} + "/" + name, "taco", max_steps=3, optim="sgd", **extra)
            trainer = build_trainer(args, {clip_dir!r}, dataset, method_config=config)
            if initial is None:
                initial = {{k: v.detach().clone() for k, v in trainer.model.named_parameters()}}
            trainer.train()
            params.append({{k: v.detach() for k, v in trainer.model.named_parameters()}})
        # fused kernels round differently: the two runs' weights must differ by under 1 % of what training moved
        for name, value in params[1].items():
            moved = (params[0][name] - initial[name]).norm()
            gap = (value - params[0][name]).norm()
            assert gap <= 0.01 * moved + 1e-6, (name, float(gap), float(moved))
        print("inductor == eager:", len(params[1]), "tensors")
    """)
    env = {**os.environ, "TORCHINDUCTOR_COMPILE_THREADS": "1", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "inductor == eager" in result.stdout


@pytest.mark.parametrize("method, extra", [("taco", {}), ("froster", {}), ("ce", dict(adaptation="lora")),
                                           ("msta", dict(adaptation="msta", msta_dim=8))])
def test_the_same_seed_builds_the_same_heads_and_adapters(clip_dir, dataset, tmp_path, make_args, method, extra):
    states = []
    for run in ("a", "b"):
        args, config = make_args(tmp_path / run, method, **extra)
        trainer = build_trainer(args, clip_dir, dataset, method_config=config)
        states.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})
        torch.rand(100)  # whatever ran in between must not matter
    assert states[0].keys() == states[1].keys()
    for key, value in states[0].items():
        torch.testing.assert_close(states[1][key], value, atol=0, rtol=0, msg=f"{method}: {key}")
