"""Methods from installed packages: the `hfvideoclip.methods` entry-point group. A distribution is put on sys.path
as a module plus a `*.dist-info` folder with an `entry_points.txt` (what `pip install` leaves), so importlib.metadata
finds it; its method is then listed, trains through `hfvideoclip train --method`, and a broken one is one warning."""

import json
import logging
import sys
import textwrap

import pytest

from hfvideoclip.cli import main as cli_main
from hfvideoclip.methods import available_methods, get_method, registry

PLUGIN = '''
from dataclasses import dataclass, field
from typing import ClassVar

from hfvideoclip.methods import MethodConfig, Objective


@dataclass
class MyConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "my_ce (plug-in) options"

    my_scale: float = field(default=1.0, metadata={"help": "Scale of the plug-in's loss."})


class MyObjective(Objective):
    config_class = MyConfig
    default_temporal_mode = "mean"
    calls = 0

    def loss(self, pixel_values_videos, labels):
        type(self).calls += 1
        video = self.student.get_video_features(pixel_values_videos=pixel_values_videos)
        loss = self.config.my_scale * self.cross_entropy(self.student.compute_logits(video, self.class_embeddings()),
                                                         labels)
        return {"loss": loss, "my_ce": loss.detach()}
'''


def _distribution(root, name, module, source, entry_points):
    """Write `module.py` and `name-0.1.dist-info/` (METADATA, entry_points.txt) under `root`."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hfvideoclip.methods]\n" + "".join(f"{k} = {v}\n"
                                                                             for k, v in entry_points.items()))


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """`installed(name, module, source, entry_points)`: a distribution on sys.path, gone again at teardown."""
    before, modules = dict(registry._METHODS), []

    def install(name, module, source, entry_points):
        root = tmp_path / name
        root.mkdir()
        _distribution(root, name, module, source, entry_points)
        modules.append(module)
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setattr(registry, "_plugins_loaded", False)  # as in a fresh process

    yield install
    registry._METHODS.clear()
    registry._METHODS.update(before)
    for module in modules:
        sys.modules.pop(module, None)


def test_an_installed_plugin_is_listed_and_trains_through_the_cli(installed, clip_dir, dataset, tmp_path, capsys):
    installed("my-plugin", "my_plugin", PLUGIN, {"my_ce": "my_plugin:MyObjective"})
    names = available_methods()
    assert names[-1] == "my_ce" and names[:2] == ["ce", "froster"]  # built-in folders in name order, then plug-ins
    objective = get_method("my_ce").objective_class
    assert objective.__name__ == "MyObjective" and get_method("my_ce").preset is None

    with pytest.raises(SystemExit):
        cli_main(["train", "--method", "my_ce", "--help"])
    text = capsys.readouterr().out
    assert "my_ce (plug-in) options" in text and "--my_scale" in text
    listed = " ".join(text.split()).split("methods: ", 1)[1].split(";", 1)[0].split(", ")
    assert listed[0] == "ce" and listed[-1] == "my_ce"

    train = tmp_path / "train.csv"
    names = dataset.features["label"].names
    train.write_text("video,label\n" + "".join(f"{v},{names[y]}\n" for v, y in zip(dataset["video"], dataset["label"])))
    out = tmp_path / "run"
    objective.calls = 0
    assert cli_main(["train", "--method", "my_ce", "--model", clip_dir, "--output_dir", str(out), "--num_frames", "4",
                     "--templates", "single", "--per_device_train_batch_size", "4", "--max_steps", "1",
                     "--my_scale", "0.5", "--train_file", str(train), "--skip_final_eval", "true",
                     "--disable_tqdm", "true", "--report_to", "none", "--use_cpu", "true"]) == 0
    assert objective.calls >= 1
    recorded = json.loads((out / "train_args.json").read_text())
    assert recorded["method"] == "my_ce" and recorded["arguments"]["my_scale"]["value"] == 0.5


def test_a_plugin_is_found_when_its_name_is_asked_for_first_and_keeps_the_preset_it_registered(installed):
    source = PLUGIN + '\nfrom hfvideoclip.methods import register_method\n' \
                      'register_method("my_ce", MyObjective, preset="my_ce.yaml")\n'
    installed("my-plugin", "my_plugin", source, {"my_ce": "my_plugin:MyObjective"})
    spec = get_method("my_ce")
    assert spec.objective_class.__name__ == "MyObjective" and spec.preset == "my_ce.yaml"


def test_a_broken_plugin_is_one_warning_and_the_others_still_work(installed, caplog):
    installed("broken-plugin", "broken_plugin", "raise ImportError('needs a package that is not installed')\n",
              {"broken": "broken_plugin:Objective"})
    installed("my-plugin", "my_plugin", PLUGIN, {"my_ce": "my_plugin:MyObjective"})
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        names = available_methods()
    assert "broken" not in names and {"ce", "taco", "my_ce"} <= set(names)
    warnings = [r.getMessage() for r in caplog.records if r.name == registry.__name__]
    assert len(warnings) == 1 and len(warnings[0].splitlines()) == 1
    assert "broken-plugin" in warnings[0] and "needs a package that is not installed" in warnings[0]
    with pytest.raises(ValueError, match="'broken' is not available"):
        get_method("broken")
    assert get_method("ce").objective_class.__name__ == "CrossEntropyObjective"


def test_a_plugin_that_is_not_an_objective_is_skipped(installed, caplog):
    installed("odd-plugin", "odd_plugin", "class NotAnObjective:\n    pass\n", {"odd": "odd_plugin:NotAnObjective"})
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        assert "odd" not in available_methods()
    assert any("odd-plugin" in r.getMessage() and "TypeError" in r.getMessage() for r in caplog.records)
