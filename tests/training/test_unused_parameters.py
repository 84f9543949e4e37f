"""DDP's find_unused_parameters comes from the method: `Objective.has_unused_parameters` must say whether one
training step leaves a trainable parameter without a gradient (tested on one toy step of every method, with the
default adaptation and the one its preset trains)."""

import pytest

from hfvideoclip.methods import available_methods, get_method
from hfvideoclip.training.presets import read_preset


def _cases():
    cases = []
    for method in available_methods():
        spec = get_method(method)
        preset = read_preset(spec.preset) if spec.preset else {}
        for adaptation in dict.fromkeys(["full", preset.get("adaptation", "full")]):
            cases.append((method, adaptation))
    return cases


@pytest.mark.parametrize("method,adaptation", _cases())
def test_declared_unused_parameters_match_one_step(method, adaptation, build, clip_dir, dataset, tmp_path):
    adapter_width = {"msta_dim": 16} if adaptation in ("msta", "adapter") else {}
    trainer = build(tmp_path, method, clip_dir, dataset, adaptation=adaptation, max_steps=1, **adapter_width)
    objective = trainer.model
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    objective.train()
    if objective.has_custom_training_step:  # writes the gradients itself
        objective.custom_training_step(trainer, objective, batch["pixel_values_videos"], batch["labels"])
    else:
        objective(pixel_values_videos=batch["pixel_values_videos"], labels=batch["labels"])["loss"].backward()
    trainable = [name for name, p in objective.named_parameters() if p.requires_grad]
    without = [name for name, p in objective.named_parameters() if p.requires_grad and p.grad is None]
    assert trainable
    assert type(objective).has_unused_parameters == bool(without), without


def test_trainer_passes_the_methods_value_to_ddp_unless_given(build, clip_dir, dataset, tmp_path):
    trainer = build(tmp_path, "ce", clip_dir, dataset)
    handlers = trainer._build_accelerator_args()["kwargs_handlers"]
    assert [h.find_unused_parameters for h in handlers if hasattr(h, "find_unused_parameters")] == [False]
    trainer = build(tmp_path, "ce", clip_dir, dataset, ddp_find_unused_parameters=True)
    handlers = trainer._build_accelerator_args()["kwargs_handlers"]
    assert [h.find_unused_parameters for h in handlers if hasattr(h, "find_unused_parameters")] == [True]
