"""The paper presets (`--preset <method>/<setting>`): each parses and resolves, each equals the values table of
docs/reproduction.md (the one record both read), the total batch is kept across process counts, and each runs 2
optimizer steps of the training recipe on the dataset miniatures with the tiny CLIP."""

import json
import re
from pathlib import Path

import pytest
import yaml

from hfvideoclip.data import available_protocols
from hfvideoclip.training.presets import available_presets, paper_preset_path, paper_presets, read_preset
from hfvideoclip.training.recipe import main, parse_args

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "reproduction.md"
PRESETS = paper_presets()
# One preset per method and kind of setting runs in the quick suite; the others are marked slow (CI runs them).
QUICK = {"taco/k400", "taco/b2n-hmdb51", "froster/k400", "froster/b2n-ucf101", "open_mede/k400", "open_vclip/k400",
         "ost/k400", "ost/fs2-hmdb51", "msta/k400", "msta/fs8-ucf101", "ce/k400", "ce/b2n-ssv2"}


def guide_table() -> dict[str, dict[str, str]]:
    """{preset: {column: cell}} of the guide's "Recipe values" table."""
    text = GUIDE.read_text()
    section = text.split("## Recipe values", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = {}
    for line in rows[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(header, cells))
    return table


def preset(name: str) -> dict:
    return read_preset(paper_preset_path(name))


def test_every_method_has_paper_presets_listed_by_help(capsys):
    assert {name.split("/")[0] for name in PRESETS} == {"taco", "froster", "open_mede", "open_vclip", "ost", "msta",
                                                       "ce"}
    assert {"taco/k400", "froster/b2n-ssv2", "msta/fs16-ssv2", "ost/fs4-hmdb51", "ce/b2n-k400"} <= set(PRESETS)
    assert set(PRESETS) <= set(available_presets()) and "taco" in available_presets()
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--preset" in out and "taco/k400" in out and "msta/b2n-ssv2" in out


@pytest.mark.parametrize("name", PRESETS)
def test_preset_parses_and_resolves(name, tmp_path):
    values = preset(name)
    method = name.split("/")[0]
    assert values["method"] == method and values["protocol"] in available_protocols()
    setting = name.split("/")[1]
    assert values["protocol"] == ("xd-ucf101" if setting == "k400" else setting)
    extra = ["--class_descriptions", str(descriptions(tmp_path))] if "class_descriptions" in values else []
    parsed = parse_args(["--preset", name, "--output_dir", str(tmp_path / "run"), "--use_cpu", "true", *extra])
    resolved = {**vars(parsed.script), **parsed.training.to_dict(), **vars(parsed.method)}
    for key, value in values.items():
        if key in ("report_to", "class_descriptions", "gradient_accumulation_steps"):
            continue
        got = resolved[key]
        assert (got.value if hasattr(got, "value") else got) == value, key
        assert parsed.sources[key] == "preset"
    # one process here: the total batch is kept by accumulation
    assert (parsed.training.per_device_train_batch_size * parsed.training.gradient_accumulation_steps
            == values["total_batch_size"])
    assert parsed.training.max_steps == -1 and parsed.preset_path == paper_preset_path(name)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_equals_the_guide_table(name):
    row = guide_table()[name]
    values = preset(name)

    def same(key, cell):
        if cell == "-":
            assert key not in values, key
        else:
            assert values[key] == pytest.approx(yaml.safe_load(cell)) if isinstance(values[key], float) \
                else values[key] == yaml.safe_load(cell), key

    for key in ("num_frames", "eval_num_clips", "learning_rate", "projection_learning_rate", "weight_decay",
                "adam_beta2", "num_train_epochs", "total_batch_size"):
        same(key, row[key])
    warmup_epochs = float(row["warm-up epochs"])
    assert values["warmup_steps"] == pytest.approx(warmup_epochs / values["num_train_epochs"], abs=1e-9)
    gpus, per_device, accumulation = (int(part) for part in row["GPUs x per device x accumulation"].split(" x "))
    assert (values["per_device_train_batch_size"], values["gradient_accumulation_steps"]) == (per_device, accumulation)
    assert gpus * per_device * accumulation == values["total_batch_size"]
    assert row["schedule"].split()[0] == values["lr_scheduler_type"]
    for pair in filter(None, (part.strip() for part in row["method, augmentation and other values"].split(";"))):
        key, cell = pair.split("=", 1)
        same(key, cell)


def test_guide_rows_cover_every_preset_with_commands():
    text = GUIDE.read_text()
    assert set(guide_table()) == set(PRESETS)
    for name in PRESETS:
        assert re.search(rf"\| `{re.escape(name)}` \|.*\| not yet run \|", text), name
        assert f"--preset {name} " in text, name
    assert "hfvideoclip evaluate" in text and "--resume_from_checkpoint" in text
    assert "ddp_multinode.yaml" in text and "bench_decode" in text
    assert "docs/reproduction.md" in (ROOT / "README.md").read_text()


def test_every_preset_value_cites_its_source():
    for name in PRESETS:
        for line in Path(paper_preset_path(name)).read_text().splitlines():
            if line and not line.startswith("#") and not line.startswith("method:"):
                assert "  # " in line, (name, line)


# ----------------------------------------------------------------------------------------------- errors, total batch
def test_preset_of_another_method_and_with_config_are_errors(tmp_path):
    with pytest.raises(ValueError, match="preset of method 'taco', not --method 'froster'"):
        parse_args(["--preset", "taco/k400", "--method", "froster"])
    with pytest.raises(ValueError, match="pass only one"):
        parse_args(["--preset", "taco/k400", "--config", "x.yaml"])
    with pytest.raises(ValueError, match="not a shipped paper preset"):
        parse_args(["--preset", "taco/k401"])


def test_missing_froster_files_are_named_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--preset", "froster/k400", "--output_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "label_rephrase/k400_rephrased_classes.json does not exist" in err
    assert "Visual-AI/FROSTER" in err and "--class_descriptions PATH" in err


def test_total_batch_is_kept_by_accumulation(tmp_path, capsys):
    parsed = parse_args(["--preset", "ce/k400", "--output_dir", str(tmp_path), "--use_cpu", "true"])
    assert parsed.training.gradient_accumulation_steps == 64  # 256 = 4 per device x 1 process x 64
    assert "total batch 256 kept on 1 process(es) as 4 per device x 64" in capsys.readouterr().out
    parsed = parse_args(["--preset", "ce/k400", "--output_dir", str(tmp_path), "--use_cpu", "true",
                         "--per_device_train_batch_size", "32"])
    assert parsed.training.gradient_accumulation_steps == 8
    with pytest.raises(ValueError, match="not a multiple"):
        parse_args(["--preset", "ce/k400", "--output_dir", str(tmp_path), "--per_device_train_batch_size", "3"])
    with pytest.raises(ValueError, match="drop --gradient_accumulation_steps"):
        parse_args(["--preset", "ce/k400", "--output_dir", str(tmp_path), "--gradient_accumulation_steps", "2"])
    plain = parse_args(["--method", "ce", "--output_dir", str(tmp_path)])  # toy presets: no total batch
    assert plain.script.total_batch_size is None and plain.training.gradient_accumulation_steps == 1


def test_total_batch_on_eight_processes_matches_the_preset_layout(tmp_path, monkeypatch, capsys):
    from hfvideoclip.training.recipe import resolve_total_batch_size

    parsed = parse_args(["--preset", "froster/k400", "--output_dir", str(tmp_path), "--use_cpu", "true",
                         "--class_descriptions", str(descriptions(tmp_path))])
    capsys.readouterr()
    training = parsed.training
    monkeypatch.setattr(type(training), "world_size", property(lambda self: 8))
    training.gradient_accumulation_steps = 1
    resolve_total_batch_size(parsed.script, training, set(), preset("froster/k400"))
    assert training.gradient_accumulation_steps == 1 and "notice" not in capsys.readouterr().out  # 8 x 8 = 64
    monkeypatch.setattr(type(training), "world_size", property(lambda self: 2))
    resolve_total_batch_size(parsed.script, training, set(), preset("froster/k400"))
    assert training.gradient_accumulation_steps == 4
    assert "the preset assumes 8 GPUs x 8 x 1" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------- 2 steps each
def descriptions(folder: Path) -> Path:
    """A FROSTER-format description file for every miniature class."""
    from hfvideoclip.data.datasets.miniatures import make_miniature

    path = folder / "descriptions.json"
    if not path.exists():
        names = []
        for name in ("kinetics400", "ucf101"):
            names += make_miniature(name, folder / f"names-{name}").class_names
        texts = {str(i): f"{name}: a person doing {name}" for i, name in enumerate(dict.fromkeys(names))}
        path.write_text(json.dumps(texts))
    return path


@pytest.fixture(scope="module")
def miniatures(tmp_path_factory):
    from hfvideoclip.data.datasets import make_miniature

    root = tmp_path_factory.mktemp("paper-presets")
    return {"ucf101": make_miniature("ucf101", root / "ucf101").root,
            "k400": make_miniature("kinetics400", root / "k400").root,
            "descriptions": descriptions(root), "cache": root / "cache"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=() if name in QUICK else pytest.mark.slow)
                                  for name in PRESETS])
def test_preset_trains_two_steps_on_the_miniatures(name, miniatures, clip_dir, tmp_path, capsys):
    """The recipe with the preset, the tiny CLIP, a batch of 2: Kinetics-400 miniature training through the
    cross-dataset protocol (the b2n / few-shot split files name the real datasets' videos, not the miniatures')."""
    values = preset(name)
    argv = ["--preset", name, "--model", clip_dir, "--protocol", "xd-ucf101", "--data_dir", str(miniatures["ucf101"]),
            "--protocol_params", json.dumps({"k400_dir": str(miniatures["k400"])}),
            "--cache_dir", str(miniatures["cache"]), "--per_device_train_batch_size", "2", "--total_batch_size", "2",
            "--max_steps", "2", "--skip_final_eval", "true", "--output_dir", str(tmp_path / "run"),
            "--use_cpu", "true", "--dataloader_num_workers", "0", "--save_strategy", "no", "--bad_video", "skip",
            "--num_frames", "4", "--disable_tqdm", "true", "--logging_steps", "1"]
    if "class_descriptions" in values:
        argv += ["--class_descriptions", str(miniatures["descriptions"])]
    if values["method"] == "msta":  # the tiny CLIP: 32 wide, 1 block
        argv += ["--msta_dim", "16", "--msta_start_layer", "1"]
    assert main(argv) == 0, capsys.readouterr().err
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    recorded = json.loads((tmp_path / "run" / "train_args.json").read_text())
    assert recorded["preset"] == paper_preset_path(name)
    assert recorded["arguments"]["learning_rate"]["value"] == values["learning_rate"]
