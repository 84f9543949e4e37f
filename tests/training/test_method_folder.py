"""Adding a method is adding one folder: a method folder written into a temporary package (objective.py, loss.py,
preset.yaml, card.md, presets/) is found by convention, trains, resumes, exports, is carded from its own card.md
and reloads, through the same battery as the built-in methods, with no list edited anywhere."""

import sys
import textwrap

import pytest
from testing_common import MethodTester

from hfvideoclip.methods import available_methods, discover_methods, get_method, registry
from hfvideoclip.training.presets import available_presets, paper_preset_path

OBJECTIVE = '''
"""`label_smoothed`: cross-entropy with a fixed label smoothing of its own."""

from dataclasses import dataclass, field
from typing import ClassVar

from hfvideoclip.methods import MethodConfig, Objective

from .loss import smoothed_cross_entropy


@dataclass
class LabelSmoothedConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "label_smoothed options"

    smoothing: float = field(default=0.1, metadata={"help": "Label smoothing of the loss."})


class LabelSmoothedObjective(Objective):
    config_class = LabelSmoothedConfig
    description = "Label-smoothed cross-entropy (a method folder made by a test)"

    def loss(self, pixel_values_videos, labels):
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        logits = self.student.compute_logits(video, self.class_embeddings(), frame_embeds=frames)
        loss = smoothed_cross_entropy(logits, labels, self.config.smoothing)
        return {"loss": loss, "smoothed_ce": loss.detach()}
'''
LOSS = '''
import torch.nn.functional as F


def smoothed_cross_entropy(logits, labels, smoothing):
    """(B, C) logits, (B,) labels -> scalar."""
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)
'''
CARD = '''{% extends "_base.md" %}
{% set family_name = "LabelSmoothed" %}
{% set paper = "a test method" %}
{% block about %}A method folder made by a test.{% endblock %}
'''


@pytest.fixture
def method_package(tmp_path, monkeypatch):
    """A package `my_methods` with one method folder, `label_smoothed`; the registry is restored afterwards."""
    folder = tmp_path / "my_methods" / "label_smoothed"
    (folder / "presets").mkdir(parents=True)
    (tmp_path / "my_methods" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("from .objective import LabelSmoothedConfig, LabelSmoothedObjective\n")
    (folder / "objective.py").write_text(textwrap.dedent(OBJECTIVE))
    (folder / "loss.py").write_text(textwrap.dedent(LOSS))
    (folder / "card.md").write_text(CARD)
    (folder / "preset.yaml").write_text("method: label_smoothed\nadaptation: full\nsmoothing: 0.2\n")
    (folder / "presets" / "toy.yaml").write_text("method: label_smoothed\nlearning_rate: 0.001\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = dict(registry._METHODS)
    yield "my_methods"
    registry._METHODS.clear()
    registry._METHODS.update(before)
    for name in [m for m in sys.modules if m.startswith("my_methods")]:
        del sys.modules[name]


def test_a_method_folder_is_found_by_convention(method_package):
    assert discover_methods(method_package) == ["label_smoothed"]
    spec = get_method("label_smoothed")
    assert "label_smoothed" in available_methods()
    assert spec.objective_class.__name__ == "LabelSmoothedObjective" and spec.config_class.__name__ == \
        "LabelSmoothedConfig"
    assert spec.preset.endswith("label_smoothed/preset.yaml") and spec.card_template.endswith("label_smoothed/card.md")
    assert "label_smoothed" in available_presets() and paper_preset_path("label_smoothed/toy") == \
        spec.paper_presets["toy"]


def test_a_method_folder_passes_the_shared_battery(method_package, tmp_path, clip_dir, dataset, build):
    discover_methods(method_package)
    MethodTester("label_smoothed").run_all(tmp_path / "run", clip_dir, dataset, build)


def test_a_folder_without_exactly_one_objective_is_refused(method_package, tmp_path):
    from hfvideoclip.methods import register_method_folder

    folder = tmp_path / "my_methods" / "label_smoothed"
    (folder / "objective.py").write_text((folder / "objective.py").read_text() + textwrap.dedent('''
        class SecondObjective(LabelSmoothedObjective):
            pass
    '''))
    with pytest.raises(TypeError, match="exactly one Objective subclass; found 2"):
        register_method_folder(f"{method_package}.label_smoothed")
