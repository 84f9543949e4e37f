import json
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from hfvideoclip.methods.common.averaging_callbacks import (
    EpochAveragingCallback,
)
from hfvideoclip.methods.open_mede.averaging import GaussianWeightAveragingCallback
from hfvideoclip.methods.open_mede.loss import gaussian_weights


class Regressor(nn.Module):
    """Tiny model with a trainable layer, a frozen layer and a buffer; returns a loss like HF models."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(4, 3)
        self.head = nn.Linear(3, 1)
        self.head.requires_grad_(False)
        self.register_buffer("steps", torch.zeros(()))

    def forward(self, x, labels=None):
        pred = self.head(self.linear(x)).squeeze(-1)
        if self.training:
            self.steps += 1
        out = {"logits": pred}
        if labels is not None:
            out["loss"] = ((pred - labels) ** 2).mean()
        return out


def _dataset(n=16):
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(n, 4, generator=g)
    ys = xs @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    return [{"x": xs[i], "labels": ys[i]} for i in range(n)]


def _args(output_dir, **kwargs):
    defaults = dict(
        output_dir=str(output_dir), per_device_train_batch_size=4, num_train_epochs=4, learning_rate=0.05,
        lr_scheduler_type="constant", optim="sgd", weight_decay=0.0, save_strategy="epoch", logging_strategy="no",
        report_to=[], use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0,
    )
    defaults.update(kwargs)
    return TrainingArguments(**defaults)


def _numpy_state(module, trainable_only=False):
    return {n: p.detach().double().numpy().copy() for n, p in module.named_parameters()
            if p.requires_grad or not trainable_only}


def _sgd_step(model):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    x = torch.randn(8, 4)
    model(x, labels=torch.randn(8))["loss"].backward()
    opt.step()
    opt.zero_grad()


# --------------------------------------------------------------------------------------------- averaging


def _begin(cb, tmp_path, max_steps=8, epochs=4, global_step=0):
    args = _args(tmp_path, num_train_epochs=epochs)
    state = TrainerState(global_step=global_step, max_steps=max_steps, num_train_epochs=epochs)
    cb.on_train_begin(args, state, TrainerControl())
    return args, state


def test_gwa_epoch_snapshots_equal_direct_gaussian_average(tmp_path):
    model = Regressor()
    cb = GaussianWeightAveragingCallback(mu=2.0, sigma=1.0, name="gwa_direct")
    args, state = _begin(cb, tmp_path, epochs=4)
    assert cb.num_snapshots == 4
    snaps = []
    for _ in range(4):
        _sgd_step(model)
        snaps.append(_numpy_state(model, trainable_only=True))
        cb.on_epoch_end(args, state, TrainerControl(), model=model)
    assert set(cb.average) == {"linear.weight", "linear.bias"}  # frozen head is not averaged
    alphas = gaussian_weights(4, 2.0, 1.0).numpy()
    for name in cb.average:
        direct = sum(a * s[name] for a, s in zip(alphas, snaps))
        np.testing.assert_allclose(cb.average[name].numpy(), direct, rtol=1e-5, atol=1e-6)
        assert cb.average[name].dtype == torch.float32
    cb.on_train_end(args, state, TrainerControl(), model=model)
    np.testing.assert_allclose(model.linear.weight.detach().numpy(), cb.average["linear.weight"].numpy())


def test_gwa_every_n_steps_counts_snapshots_from_max_steps(tmp_path):
    model = Regressor()
    cb = GaussianWeightAveragingCallback(every_n_steps=3, apply_at_end=False, name="gwa_steps")
    args, state = _begin(cb, tmp_path, max_steps=10)
    assert cb.num_snapshots == 3
    for step in range(1, 11):
        _sgd_step(model)
        state.global_step = step
        cb.on_step_end(args, state, TrainerControl(), model=model)
        cb.on_epoch_end(args, state, TrainerControl(), model=model)  # ignored in step mode
    assert cb.num_updates == 3
    before = _numpy_state(model)
    cb.on_train_end(args, state, TrainerControl(), model=model)
    np.testing.assert_array_equal(_numpy_state(model)["linear.weight"], before["linear.weight"])


def test_gwa_save_load_round_trip(tmp_path):
    model = Regressor()
    cb = GaussianWeightAveragingCallback(name="gwa_roundtrip")
    args, state = _begin(cb, tmp_path / "run", epochs=5)
    for _ in range(3):
        _sgd_step(model)
        cb.on_epoch_end(args, state, TrainerControl(), model=model)
    file = cb.save(tmp_path / "ckpt", global_step=12)
    assert file.endswith("gwa_roundtrip.safetensors")
    fresh = GaussianWeightAveragingCallback(name="gwa_roundtrip")
    fresh.load_from_checkpoint(tmp_path / "ckpt")
    assert (fresh.num_updates, fresh.weight_sum, fresh.num_snapshots) == (3, cb.weight_sum, 5)
    for name, value in cb.average.items():
        torch.testing.assert_close(fresh.average[name], value, rtol=0, atol=0)
    assert fresh.state() == cb.state()
    # the restored average continues exactly like the original
    _begin(fresh, tmp_path / "run", epochs=5, global_step=12)
    _sgd_step(model)
    cb.on_epoch_end(args, state, TrainerControl(), model=model)
    fresh.on_epoch_end(args, state, TrainerControl(), model=model)
    for name, value in cb.average.items():
        torch.testing.assert_close(fresh.average[name], value, rtol=0, atol=0)


def test_epoch_averaging_uses_the_epoch_window_and_round_trips(tmp_path):
    model = Regressor()
    cb = EpochAveragingCallback(start_epoch=2, end_epoch=3, name="epoch_avg")
    args, state = _begin(cb, tmp_path, epochs=4)
    snaps = []
    for epoch in range(1, 5):
        _sgd_step(model)
        snaps.append(_numpy_state(model, trainable_only=True))
        state.epoch = float(epoch)
        cb.on_epoch_end(args, state, TrainerControl(), model=model)
    assert cb.averaged_epochs == [2, 3]
    np.testing.assert_allclose(cb.average["linear.weight"].numpy(),
                               (snaps[1]["linear.weight"] + snaps[2]["linear.weight"]) / 2, rtol=1e-5)
    cb.save(tmp_path / "ckpt")
    fresh = EpochAveragingCallback(start_epoch=2, end_epoch=3, name="epoch_avg")
    fresh.load(tmp_path / "ckpt" / "epoch_avg.safetensors")
    assert fresh.averaged_epochs == [2, 3] and fresh.num_updates == 2
    torch.testing.assert_close(fresh.average["linear.weight"], cb.average["linear.weight"], rtol=0, atol=0)
    with pytest.raises(ValueError):
        EpochAveragingCallback(start_epoch=3, end_epoch=2)


def test_loading_a_file_of_another_callback_raises(tmp_path):
    cb = EpochAveragingCallback(name="shared_name")
    cb.save(tmp_path)
    with pytest.raises(ValueError, match="written by"):
        GaussianWeightAveragingCallback(name="shared_name").load_from_checkpoint(tmp_path)


# --------------------------------------------------------------------------------------------- with the Trainer


class _Recorder(TrainerCallback):
    def __init__(self):
        self.snapshots = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.snapshots.append(_numpy_state(model, trainable_only=True))


def _train(output_dir, callbacks, resume=None, **kwargs):
    model = Regressor()
    trainer = Trainer(model=model, args=_args(output_dir, **kwargs), train_dataset=_dataset(),
                      callbacks=callbacks)
    trainer.train(resume_from_checkpoint=resume)
    return trainer, model


def test_gwa_in_trainer_and_resume_from_checkpoint(tmp_path):
    recorder = _Recorder()
    gwa = GaussianWeightAveragingCallback(name="gwa_trainer")
    _, model = _train(tmp_path / "a", [gwa, recorder])
    alphas = gaussian_weights(4).numpy()
    direct = sum(a * s["linear.weight"] for a, s in zip(alphas, recorder.snapshots))
    np.testing.assert_allclose(model.linear.weight.detach().numpy(), direct, rtol=1e-5, atol=1e-6)
    assert os.path.isfile(tmp_path / "a" / "checkpoint-8" / "gwa_trainer.safetensors")
    with open(tmp_path / "a" / "checkpoint-8" / "trainer_state.json") as handle:
        stored = json.load(handle)["stateful_callbacks"]
    assert stored["GaussianWeightAveragingCallback"]["attributes"]["num_updates"] == 2
    full = {k: v.clone() for k, v in gwa.average.items()}

    # resume in the same output dir: on_train_begin reloads checkpoint-8/gwa_trainer.safetensors by itself
    resumed = GaussianWeightAveragingCallback(name="gwa_trainer")
    _, model_b = _train(tmp_path / "a", [resumed], resume=str(tmp_path / "a" / "checkpoint-8"))
    assert resumed.num_updates == 4
    for name, value in full.items():
        torch.testing.assert_close(resumed.average[name], value, rtol=1e-6, atol=1e-7)

    # resume elsewhere with restore_callback_states_from_checkpoint: the Trainer rebuilds the callback from JSON
    explicit = GaussianWeightAveragingCallback(name="gwa_trainer")
    explicit.load_from_checkpoint(tmp_path / "a" / "checkpoint-8")
    trainer, _ = _train(tmp_path / "b", [explicit], resume=str(tmp_path / "a" / "checkpoint-8"),
                        restore_callback_states_from_checkpoint=True)
    live = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, GaussianWeightAveragingCallback)]
    assert len(live) == 1 and live[0] is not explicit and live[0].num_updates == 4
    for name, value in full.items():
        torch.testing.assert_close(live[0].average[name], value, rtol=1e-6, atol=1e-7)


def test_resume_without_a_state_file_warns_and_restarts(tmp_path, caplog):
    cb = GaussianWeightAveragingCallback(name="gwa_missing")
    cb.num_updates = 3  # as set by the Trainer from trainer_state.json, without the tensors
    with caplog.at_level("WARNING"):
        _begin(cb, tmp_path, epochs=4, global_step=5)
    assert "found no gwa_missing.safetensors" in caplog.text
    assert cb.num_updates == 0 and cb.average == {}
