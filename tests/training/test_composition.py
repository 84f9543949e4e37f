"""Every method x learner pair that docs/learners.md marks ✓ trains 2 steps on toy videos; every ✗ pair is refused
in one line giving the documented reason. The table is read from the docs, so the docs and the code agree."""

import math
import re
from pathlib import Path

import pytest
import torch
from testing_common import built_in_methods, write_tiny_clip, write_tiny_xclip

from hfvideoclip.adapters import available_adaptations

DOC = Path(__file__).resolve().parents[2] / "docs" / "learners.md"
REASONS = {  # the table's reason word -> what the one-line error says
    "interpolation": r"cannot be combined with --method open_vclip \(interpolated weights\)",
    "averaging": r"cannot be combined with GaussianWeightAveragingCallback",
    "frame teacher": r"cannot train an X-CLIP model .*frame-wise \('mean'\) CLIP teacher",
    "frame scoring": r"cannot train an X-CLIP model .*X-CLIP has no frame scoring",
}


def composition_table() -> dict[tuple[str, str], str]:
    """(method, learner) -> "✓" or the reason word of "✗ <reason>", from the table headed `| method | full |`."""
    lines = [line for line in DOC.read_text().splitlines() if line.startswith("|")]
    start = next(i for i, line in enumerate(lines) if line.startswith("| method | full |"))
    learners = [cell.strip() for cell in lines[start].strip("|").split("|")][1:]
    table = {}
    for line in lines[start + 2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(learners) + 1:
            break
        for learner, cell in zip(learners, cells[1:]):
            table[cells[0], learner] = "✓" if cell == "✓" else cell.removeprefix("✗ ")
    return table


TABLE = composition_table()


def test_the_table_covers_every_method_and_learner():
    methods = {method for method, _ in TABLE}
    learners = {learner for _, learner in TABLE}
    assert methods == set(built_in_methods())
    assert learners == set(available_adaptations()) | {"X-CLIP"}
    assert all(value == "✓" or value in REASONS for value in TABLE.values()), TABLE


@pytest.fixture(scope="module")
def two_block_clip(tmp_path_factory):
    return write_tiny_clip(tmp_path_factory.mktemp("clip"), vision_layers=2)


@pytest.fixture(scope="module")
def xclip_dir(tmp_path_factory):
    return write_tiny_xclip(tmp_path_factory.mktemp("xclip") / "tiny-xclip")


@pytest.mark.parametrize("method, learner", sorted(TABLE), ids=lambda value: str(value))
def test_every_pair_trains_or_is_refused_as_documented(method, learner, two_block_clip, xclip_dir, dataset, build,
                                                       tmp_path):
    model = xclip_dir if learner == "X-CLIP" else two_block_clip
    overrides = {"adaptation": "full" if learner == "X-CLIP" else learner, "max_steps": 2,
                 **({"msta_dim": 16} if learner in ("msta", "adapter") else {}),
                 **({"gwa": True, "gwa_every_n_steps": 1} if method == "open_mede" else {})}
    expected = TABLE[method, learner]
    if expected != "✓":
        with pytest.raises(ValueError, match=REASONS[expected]) as error:
            build(tmp_path, method, model, dataset, **overrides)
        assert "\n" not in str(error.value)
        return
    trainer = build(tmp_path, method, model, dataset, **overrides)
    trainable = {name: p.detach().clone() for name, p in trainer.model.student.named_parameters() if p.requires_grad}
    assert trainable
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(math.isfinite(loss) for loss in losses)
    now = dict(trainer.model.student.named_parameters())
    assert any(not torch.equal(now[name], before) for name, before in trainable.items()), \
        f"{method} on {learner}: no trainable tensor moved"
    if learner in ("adapter", "msta", "st_adapter", "prompts", "lora"):  # the pretrained weights stay as they were
        frozen = [name for name, p in now.items() if not p.requires_grad and re.search(r"\.(q|k|v)_proj\.weight$", name)]
        assert frozen


def test_taco_warns_when_its_disposable_projection_outweighs_the_learner(two_block_clip, dataset, build, tmp_path,
                                                                         caplog):
    """One prompt token per block (64 parameters) is less than the 16 x 16 projection TACO drops at export."""
    with caplog.at_level("WARNING", logger="hfvideoclip.methods.taco.objective"):
        build(tmp_path / "full", "taco", two_block_clip, dataset, adaptation="full")
    assert not [r for r in caplog.records if "specialization projection" in r.getMessage()]
    with caplog.at_level("WARNING", logger="hfvideoclip.methods.taco.objective"):
        build(tmp_path / "prompts", "taco", two_block_clip, dataset, adaptation="prompts", prompt_tokens=1)
    warned = [r.getMessage() for r in caplog.records if "specialization projection" in r.getMessage()]
    assert len(warned) == 1 and "(64 parameters)" in warned[0] and "--specialization_projection false" in warned[0]
    with caplog.at_level("WARNING", logger="hfvideoclip.methods.taco.objective"):
        caplog.clear()
        build(tmp_path / "off", "taco", two_block_clip, dataset, adaptation="prompts", prompt_tokens=1,
              specialization_projection=False)
    assert not [r for r in caplog.records if "specialization projection" in r.getMessage()]
