"""Model cards (`hfvideoclip.hub.model_card`) and publishing (`hfvideoclip.hub.push`) on a tiny run folder: a toy
VideoClipModel + processor export with a fake results.json, train_args.json and training leftovers. Nothing touches
the network: `HfApi` is replaced by a recorder."""

import json
import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import ModelCard

from hfvideoclip import VideoClipModel, VideoClipProcessor
from hfvideoclip.hub import push as push_module
from hfvideoclip.hub.model_card import (
    build_model_card,
    inactive_arguments,
    resolve_base_model,
    training_length,
    write_model_card,
)
from hfvideoclip.hub.push import HubPushMixin, main, push_run
from hfvideoclip.methods import available_methods
from hfvideoclip.toy import toy_clip_path

TOY_CLIP = toy_clip_path()
SECRET = "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1234"
RESULTS = {
    "protocol": "toy-b2n", "model": "ce:tiny_clip",
    "metrics": {"base_top1": 0.5, "novel_top1": 0.25, "hm": 1 / 3, "base_top5": 0.9, "novel_top5": 0.8,
                "base_shape_top1": 0.7, "base_top1_std": 0.1, "novel_top1_std": 0.05, "hm_std": 0.02},
    "per_split": [
        {"split": "split1", "metrics": {"base_top1": 0.6, "novel_top1": 0.2, "hm": 0.3, "base_top5": 0.9,
                                        "novel_top5": 0.8, "base_shape_top1": 0.7}},
        {"split": "split2", "metrics": {"base_top1": 0.4, "novel_top1": 0.3, "hm": 0.342857, "base_top5": 0.9,
                                        "novel_top5": 0.8, "base_shape_top1": 0.7}},
    ],
}
DATA_FILES = {"README.md", "config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
              "tokenizer_config.json", "video_preprocessor_config.json", "results.json", "results.md",
              "plot_split1.png", "train_args.json"}


def train_args(run_dir, method="ce", model=None, **overrides):
    values = {"method": (method, "command line"), "model": (model, "default" if model is None else "command line"),
              "adaptation": ("full", "preset"), "temporal_mode": ("mean", "preset"), "num_frames": (4, "preset"),
              "learning_rate": (5e-4, "preset"), "per_device_train_batch_size": (4, "preset"),
              "max_steps": (7, "command line"), "num_train_epochs": (3.0, "default"), "seed": (42, "preset"),
              "protocol": ("toy-b2n", "default"), "split": (0, "default"), "output_dir": (str(run_dir), "command line"),
              "cache_dir": (str(run_dir.parent / "cache"), "command line"), "hub_token": ("<HUB_TOKEN>", "default"),
              "lora_r": (8, "default"), "lora_alpha": (16, "default"), "lora_target_modules": ("q_proj,v_proj",
                                                                                              "default")}
    values.update(overrides)
    return {"method": method, "preset": f"/somewhere/presets/{method}.yaml",
            "arguments": {name: {"value": value, "source": source} for name, (value, source) in values.items()}}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """What `save_pretrained` writes for a toy VideoClipModel and its processor (weights mode 0600 here)."""
    folder = tmp_path_factory.mktemp("export") / "model"
    VideoClipModel.from_clip(TOY_CLIP, temporal_mode="mean", num_frames=4).save_pretrained(folder)
    VideoClipProcessor.from_pretrained(TOY_CLIP, num_frames=4).save_pretrained(folder)
    os.chmod(folder / "model.safetensors", 0o600)
    return folder


def make_run(tmp_path, export, method="ce", model=None, name="my-run", **overrides):
    """A finished run folder: the export, results, arguments, trainer state and the leftovers never published."""
    run = tmp_path / name
    shutil.copytree(export, run)
    os.chmod(run / "model.safetensors", 0o600)
    (run / "results.json").write_text(json.dumps(RESULTS))
    (run / "results.md").write_text("# toy-b2n\n")
    (run / "plot_split1.png").write_bytes(b"\x89PNG fake")
    (run / "train_args.json").write_text(json.dumps(train_args(run, method, model, **overrides)))
    (run / "trainer_state.json").write_text(json.dumps({"global_step": 7, "epoch": 0.5, "max_steps": 7}))
    (run / "training_args.bin").write_bytes(b"pickle")
    (run / "README.md").write_text("---\nlibrary_name: hfvideoclip\n---\nold draft card\n")
    checkpoint = run / "checkpoint-7"
    checkpoint.mkdir()
    for leftover in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "model.safetensors", "trainer_state.json"):
        (checkpoint / leftover).write_bytes(b"state")
    return run


def code_files(export):
    return {p.name for p in export.glob("*.py")}


def files_under(folder):
    return {p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file()}


def eval_values(card):
    return {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}


class FakeApi:
    """Records what a push asks of the Hub; `upload_folder` notes the files present at upload time."""

    calls: list = []

    def __init__(self, token=None, **kwargs):
        FakeApi.calls.append(("init", {"token_given": token is not None}))

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None, **kwargs):
        FakeApi.calls.append(("create_repo", dict(repo_id=repo_id, private=private, exist_ok=exist_ok)))

        class Url(str):
            pass

        url = Url(f"https://huggingface.co/{repo_id}")
        url.repo_id = repo_id
        return url

    def create_branch(self, repo_id, branch, exist_ok=False, **kwargs):
        FakeApi.calls.append(("create_branch", dict(repo_id=repo_id, branch=branch)))

    def upload_folder(self, repo_id, folder_path, commit_message=None, revision=None, **kwargs):
        FakeApi.calls.append(("upload_folder", dict(repo_id=repo_id, folder_path=folder_path,
                                                    commit_message=commit_message, revision=revision,
                                                    files=files_under(folder_path),
                                                    card=(Path(folder_path) / "README.md").read_text())))
        return SimpleNamespace(oid="abc123", commit_url=f"https://huggingface.co/{repo_id}/commit/abc123")


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    return FakeApi.calls


# ------------------------------------------------------------------------------------------------ cards
def test_card_yaml_holds_the_runs_numbers_and_no_local_path(tmp_path, export):
    run = make_run(tmp_path, export)
    path = write_model_card(str(run), method="ce", base_model=TOY_CLIP, results=RESULTS, training_args=None)
    card = ModelCard.load(path)
    # values the Hub indexes: no `hfvideoclip` library nor zero-shot video task there
    assert card.data.library_name == "transformers"
    assert card.data.pipeline_tag == "video-classification"
    assert {"zero-shot", "hfvideoclip", "ce", "custom_code"} <= set(card.data.tags)
    assert {r.task_type for r in card.data.eval_results} == {"video-classification"}
    assert card.data.license == "apache-2.0"
    assert card.data.get("base_model") is None  # the toy CLIP is a local folder
    values = eval_values(card)
    assert values[("split1", "hm")] == 30.0 and values[("split2", "base_top1")] == 40.0
    assert values[(None, "hm")] == round(100 / 3, 2)  # the mean over the two splits
    assert values[(None, "novel_top1")] == 25.0 and values[("split1", "novel_top5")] == 80.0
    assert all(r.dataset_type == "toy-b2n" for r in card.data.eval_results)
    assert "base_shape_top1" not in {r.metric_type for r in card.data.eval_results}
    assert "Trained for 7 optimizer steps" in card.text and "(0.5 epochs" in card.text
    assert "| max_steps | 7 | command line |" in card.text
    assert "num_train_epochs" not in card.text  # Trainer's default, unused with max_steps
    assert "hub_token" not in card.content and "output_dir" not in card.text
    assert str(tmp_path) not in card.content and TOY_CLIP not in card.content
    assert "@inproceedings{rasheed2023vificlip" in card.text
    assert 'trust_remote_code=True' in card.text and "temporal_mode=mean" in card.text
    assert "| split2 | 40.0 | 30.0 | 34.3 |" in card.text


def test_card_from_training_arguments_object_reports_epochs(tmp_path, export):
    run = tmp_path / "plain"
    shutil.copytree(export, run)
    args = SimpleNamespace(method="taco", adaptation="full", max_steps=-1, num_train_epochs=2.0,
                           per_device_train_batch_size=8, learning_rate=1e-5, hub_token=SECRET)
    path = write_model_card(str(run), method="taco", base_model="openai/clip-vit-base-patch16", results=RESULTS,
                            training_args=args, repo_id="org/taco-toy", license="mit")
    card = ModelCard.load(path)
    assert card.data.base_model == "openai/clip-vit-base-patch16" and card.data.license == "mit"
    assert "Trained for 2 epochs of 8 clips per device" in card.text and "| max_steps |" not in card.text
    assert SECRET not in card.content
    assert 'AutoModel.from_pretrained("org/taco-toy", trust_remote_code=True)' in card.text


def hyperparameters(card) -> dict[str, str]:
    table = card.text.split("## Training hyperparameters")[1].split("## Evaluation")[0]
    return {row.split(" | ")[0].strip("| "): row.split(" | ")[1] for row in table.splitlines()
            if row.startswith("| ") and not row.startswith("| argument")}


def test_card_lists_only_the_hyperparameters_that_took_effect(tmp_path, export):
    no_ops = {"label_smoothing_factor": (0.0, "default"), "weight_decay": (0.0, "default"),
              "warmup_steps": (0, "default"), "bf16": (False, "default"), "fp16": (False, "default"),
              "gradient_accumulation_steps": (1, "default"), "max_grad_norm": (0.0, "command line"),
              "patch_alpha": (1.0, "command line"), "augment": (False, "command line"),
              "crop_min_area": (0.4, "default"), "grayscale_probability": (0.2, "default"),
              "horizontal_flip": (True, "command line"), "optim": ("sgd", "command line"),
              "adam_beta1": (0.9, "default"), "adam_beta2": (0.999, "default"),
              "projection_learning_rate": (1e-3, "command line")}
    card = build_model_card(method="ce", run_dir=make_run(tmp_path, export, **no_ops))
    shown = hyperparameters(card)
    assert {"learning_rate", "augment", "optim", "max_steps"} <= set(shown)
    assert not set(shown) & (set(no_ops) - {"augment", "optim"}), shown  # ce has no heads

    active = {"label_smoothing_factor": (0.1, "command line"), "weight_decay": (0.2, "preset"),
              "warmup_steps": (0.1, "preset"), "bf16": (True, "command line"), "max_grad_norm": (1.0, "default"),
              "gradient_accumulation_steps": (4, "command line"), "projection_learning_rate": (1e-3, "command line"),
              "swa": (False, "default"), "swa_start_epoch": (2, "default"), "interpolation_weight": (1.0, "default")}
    shown = hyperparameters(build_model_card(method="froster", run_dir=make_run(tmp_path, export, name="froster",
                                                                                  **active)))
    assert shown["label_smoothing_factor"] == "0.1" and shown["projection_learning_rate"] == "0.001"  # heads
    assert {"weight_decay", "warmup_steps", "bf16", "max_grad_norm", "gradient_accumulation_steps"} <= set(shown)
    shown = hyperparameters(build_model_card(method="open_vclip", run_dir=make_run(tmp_path, export, name="ovc",
                                                                                     **active)))
    assert "interpolation_weight" in shown and "swa_start_epoch" not in shown  # SWA off: its start is moot
    assert "projection_learning_rate" not in shown  # no heads
    assert inactive_arguments({"lr_scheduler_type": ("constant", "command line")}, None) >= {"warmup_steps"}


def test_card_snippet_trusts_remote_code_when_the_repository_ships_the_pipeline(tmp_path, export):
    run = make_run(tmp_path, export)
    config = json.loads((run / "config.json").read_text())
    config["custom_pipelines"] = {"zero-shot-video-classification": {"impl": "x.Y"}}
    (run / "config.json").write_text(json.dumps(config))
    card = build_model_card(method="ce", run_dir=run, repo_id="org/toy")
    assert 'pipeline("zero-shot-video-classification", model="org/toy", trust_remote_code=True)' in card.text


def test_training_length_reports_the_budget_that_applied():
    assert training_length({"max_steps": (300, "preset"), "num_train_epochs": (3.0, "default")}) == \
        "Trained for 300 optimizer steps (`max_steps`; `num_train_epochs` unused)."
    assert "Trained for 10 epochs" in training_length({"max_steps": (-1, "default"),
                                                       "num_train_epochs": (10.0, "command line")})
    assert training_length({"max_steps": (300, "preset")}, {"global_step": 120, "epoch": 1.5}).startswith(
        "Trained for 120 optimizer steps (1.5 epochs")


def test_base_model_is_a_hub_id_or_nothing(tmp_path):
    assert resolve_base_model("openai/clip-vit-base-patch16") == "openai/clip-vit-base-patch16"
    assert resolve_base_model(TOY_CLIP) is None
    assert resolve_base_model(str(tmp_path / "missing" / "model")) is None
    assert resolve_base_model(None) is None
    converted = tmp_path / "converted"
    converted.mkdir()
    (converted / "config.json").write_text(json.dumps({"_name_or_path": "openai/clip-vit-base-patch32"}))
    assert resolve_base_model(converted) == "openai/clip-vit-base-patch32"
    (converted / "config.json").write_text(json.dumps({"_name_or_path": str(tmp_path / "elsewhere")}))
    assert resolve_base_model(converted) is None
    (converted / "README.md").write_text("---\nbase_model: org/parent-model\n---\ncard\n")
    assert resolve_base_model(converted) == "org/parent-model"  # a run fine-tuned from a published run


@pytest.mark.parametrize("method", [*available_methods(), "my_plugin_method"])
def test_every_family_template_renders_a_valid_card(tmp_path, export, method):
    run = make_run(tmp_path, export, method=method)
    card = build_model_card(method=method, base_model=TOY_CLIP, repo_id="org/toy", run_dir=run)
    reloaded = ModelCard(str(card))
    assert (reloaded.data.library_name, reloaded.data.pipeline_tag) == ("transformers", "video-classification")
    assert {"zero-shot", "hfvideoclip", method, "custom_code"} <= set(reloaded.data.tags)
    assert eval_values(reloaded)[("split1", "hm")] == 30.0
    assert "org/toy" in card.text and "synthetic toy world" in card.text
    if method in available_methods():  # a method folder's card.md
        assert "```bibtex\n@" in card.text.split("## Citation")[1].split("The backbone")[0]
    else:
        assert "# toy: my_plugin_method video CLIP" in card.text


# ------------------------------------------------------------------------------------------------ staging
def test_push_without_the_network_is_one_line(tmp_path, export, capsys, monkeypatch):
    import huggingface_hub.constants

    run = make_run(tmp_path, export)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "hf_test_not_a_token")
    assert main([str(run), "--repo", "org/tiny-ce", "--staging-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: pushing") and "org/tiny-ce failed" in err and "--dry-run" in err
    assert len(err.splitlines()) == 1


def test_dry_run_stages_exactly_the_published_files(tmp_path, export, capsys):
    run = make_run(tmp_path, export)
    staging = tmp_path / "staging"
    staged = push_run(run, "org/tiny-ce", dry_run=True, staging_dir=staging)
    expected = DATA_FILES | code_files(export)
    assert set(staged.files) == expected == files_under(staging)
    assert not any("checkpoint" in name or name.endswith((".pt", ".pth", ".bin")) for name in staged.files)
    assert "trainer_state.json" not in staged.files
    assert {"checkpoint-7/", "trainer_state.json", "training_args.bin"} <= set(staged.left_out)
    for path in [staging, *staging.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    assert stat.S_IMODE((run / "model.safetensors").stat().st_mode) == 0o600  # the run folder is not touched
    card = ModelCard.load(staging / "README.md")
    assert "org/tiny-ce" in card.text and "old draft card" not in card.text
    assert card.data.get("base_model") is None and "a local checkpoint (`tiny_clip`" in card.text  # recipe default
    assert eval_values(card)[("split2", "hm")] == 34.29
    assert json.loads((staging / "config.json").read_text())["auto_map"]["AutoModel"]
    assert staged.commit_message == "Upload hfvideoclip run my-run (method ce, toy-b2n)"
    assert capsys.readouterr().out == ""  # the function prints nothing; the command line does


def test_trainer_state_only_on_request(tmp_path, export):
    run = make_run(tmp_path, export)
    staged = push_run(run, "org/tiny-ce", dry_run=True, staging_dir=tmp_path / "s", include_trainer_state=True)
    assert "trainer_state.json" in staged.files and "checkpoint-7/" in staged.left_out


def write_adapter(folder, base_path):
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base_path, "r": 8}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    os.chmod(folder / "adapter_model.safetensors", 0o600)
    (folder / "README.md").write_text(f"---\nbase_model: ''\ntags:\n- base_model:adapter:{base_path}\n---\n")


def test_lora_run_pushes_the_merged_model_with_its_adapter(tmp_path, export):
    hub_base = "openai/clip-vit-base-patch16"
    run = make_run(tmp_path, export, model=hub_base, adaptation=("lora", "command line"))
    write_adapter(run / "adapter", TOY_CLIP)
    staged = push_run(run, "org/tiny-lora", dry_run=True, staging_dir=tmp_path / "s")
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= set(staged.files)
    assert "adapter/README.md" not in staged.files and "model.safetensors" in staged.files
    config = json.loads((tmp_path / "s" / "adapter" / "adapter_config.json").read_text())
    assert config == {"base_model_name_or_path": hub_base, "r": 8}
    assert stat.S_IMODE((tmp_path / "s" / "adapter" / "adapter_model.safetensors").stat().st_mode) == 0o644
    card = ModelCard.load(tmp_path / "s" / "README.md")
    assert card.data.base_model == hub_base and "`adapter/`" in card.text and "| lora_r | 8 |" in card.text

    toy = make_run(tmp_path, export, name="toy-lora", adaptation=("lora", "command line"))
    write_adapter(toy / "adapter", TOY_CLIP)
    push_run(toy, "org/toy-lora", dry_run=True, staging_dir=tmp_path / "t")
    assert json.loads((tmp_path / "t" / "adapter" / "adapter_config.json").read_text())[
        "base_model_name_or_path"] is None  # a local base path never reaches the Hub
    without = push_run(toy, "org/toy-lora", dry_run=True, staging_dir=tmp_path / "u", include_adapter=False)
    assert not any(name.startswith("adapter/") for name in without.files)


def test_msta_and_ost_runs_keep_what_their_model_needs(tmp_path, export):
    msta = make_run(tmp_path, export, method="msta", name="msta-run", adaptation=("msta", "preset"),
                    temporal_mode=("viclip", "preset"))
    write_adapter(msta / "msta", TOY_CLIP)
    with pytest.raises(ValueError, match=r"no `adapter` field but .*msta.*to_video_clip_model\(\)"):
        push_run(msta, "org/msta", dry_run=True, staging_dir=tmp_path / "refused")  # exported before config.adapter
    from hfvideoclip.adapters.msta import MstaConfig

    config = json.loads((msta / "config.json").read_text())
    (msta / "config.json").write_text(json.dumps({**config, "adapter": MstaConfig(dim=8).to_model_adapter()}))
    staged = push_run(msta, "org/msta", dry_run=True, staging_dir=tmp_path / "m")
    assert {"msta/adapter_config.json", "msta/adapter_model.safetensors"} <= set(staged.files)
    card = (tmp_path / "m" / "README.md").read_text()
    assert "@misc{chen2024msta" in card and "snapshot_download" not in card  # the adapters load with the model
    assert 'AutoModel.from_pretrained("org/msta", trust_remote_code=True)' in card
    assert "`adapter` in `config.json`" in card

    ost = make_run(tmp_path, export, method="ost", name="ost-run")
    (ost / "descriptors.json").write_text(json.dumps({"moving left": {"spatial": ["a shape"], "temporal": ["x"]}}))
    staged = push_run(ost, "org/ost", dry_run=True, staging_dir=tmp_path / "o")
    assert "descriptors.json" in staged.files and "descriptors.json" in (tmp_path / "o" / "README.md").read_text()


def test_refusals(tmp_path, export):
    run = make_run(tmp_path, export)
    with pytest.raises(ValueError, match="no config.json"):
        push_run(run / "checkpoint-7", "org/x", dry_run=True, staging_dir=tmp_path / "a")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "stale.txt").write_text("old")
    with pytest.raises(ValueError, match="not empty"):
        push_run(run, "org/x", dry_run=True, staging_dir=busy)
    (run / "config.json").write_text(json.dumps({"model_type": "video_clip"}))
    with pytest.raises(ValueError, match="auto_map"):
        push_run(run, "org/x", dry_run=True, staging_dir=tmp_path / "b")


def test_a_file_holding_the_token_is_refused_without_naming_it(tmp_path, export, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    run = make_run(tmp_path, export)
    (run / "results.md").write_text(f"# leaked {SECRET}\n")
    with pytest.raises(ValueError, match="access token") as error:
        push_run(run, "org/x", dry_run=True, staging_dir=tmp_path / "s")
    assert SECRET not in str(error.value)


# ------------------------------------------------------------------------------------------------ upload
def test_upload_creates_the_repo_and_commits_the_staged_folder(tmp_path, export, fake_hub, capsys):
    run = make_run(tmp_path, export, name="ce-b2n-split0")
    assert main([str(run), "--repo", "org/tiny-ce", "--private"]) == 0
    output = capsys.readouterr()
    calls = [(name, kwargs) for name, kwargs in fake_hub if name != "init"]
    assert [name for name, _ in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1] == {"repo_id": "org/tiny-ce", "private": True, "exist_ok": True}
    upload = calls[1][1]
    assert upload["repo_id"] == "org/tiny-ce" and upload["revision"] is None
    assert upload["files"] == DATA_FILES | code_files(export)
    assert "ce-b2n-split0" in upload["commit_message"]
    assert "org/tiny-ce" in upload["card"]
    assert not Path(upload["folder_path"]).exists()  # the temporary staging folder is cleaned up
    assert "uploaded to https://huggingface.co/org/tiny-ce" in output.out
    assert SECRET not in output.out + output.err


def test_dry_run_command_lists_files_and_calls_no_api(tmp_path, export, fake_hub, capsys):
    run = make_run(tmp_path, export)
    assert main([str(run), "--repo", "org/tiny-ce", "--dry-run", "--staging-dir", str(tmp_path / "s"),
                 "--commit-message", "my message"]) == 0
    output = capsys.readouterr()
    assert fake_hub == []
    assert "  model.safetensors\n" in output.out and "dry run: nothing uploaded" in output.out
    assert "checkpoint-7/: training checkpoint" in output.out and "commit message: my message" in output.out
    assert SECRET not in output.out + output.err
    assert main([str(run / "checkpoint-7"), "--repo", "org/x", "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# ------------------------------------------------------------------------------------------------ Trainer
class StubTrainer(HubPushMixin):
    """The parts of a Trainer the mixin uses; `save_model` exports as VideoClipTrainer's does."""

    def __init__(self, output_dir, exporter):
        self.args = SimpleNamespace(output_dir=str(output_dir), hub_model_id="stub", hub_token=None,
                                    hub_private_repo=True, hub_revision=None)
        self.hub_model_id = "org/stub"  # what Trainer.init_hf_repo resolved
        self.exporter = exporter
        self.state = self.control = None
        self.callback_handler = SimpleNamespace(on_push_begin=lambda *args: None)
        self.saved = []

    def save_model(self, output_dir=None, _internal_call=False):
        self.saved.append(output_dir)
        if self.exporter is not None:
            self.exporter(None, output_dir)

    def is_world_process_zero(self):
        return True


def test_trainer_push_goes_through_the_export_and_our_card(tmp_path, export, fake_hub):
    from hfvideoclip.training.trainer import VideoClipTrainer

    run = make_run(tmp_path, export)
    (run / "model.safetensors").unlink()  # the export written by push_to_hub's save_model

    def exporter(objective, output_dir):
        shutil.copyfile(export / "model.safetensors", Path(output_dir) / "model.safetensors")

    trainer = StubTrainer(run, exporter)
    before = (run / "README.md").read_text()
    assert trainer.create_model_card(model_name="x", tags=["y"]) is None
    assert (run / "README.md").read_text() == before  # Trainer's draft never replaces ours
    assert trainer._push_from_checkpoint(str(run / "checkpoint-7")) is None and fake_hub == []
    commit = trainer.push_to_hub(commit_message="End of training")
    assert commit.oid == "abc123" and trainer.saved == [str(run)]
    upload = [kwargs for name, kwargs in fake_hub if name == "upload_folder"][0]
    assert upload["repo_id"] == "org/stub" and upload["commit_message"] == "End of training"
    assert "model.safetensors" in upload["files"] and not any("checkpoint" in f for f in upload["files"])
    assert ("create_repo", {"repo_id": "org/stub", "private": True, "exist_ok": True}) in fake_hub
    with pytest.raises(ValueError, match="exporter"):
        StubTrainer(run, None).push_to_hub()

    assert issubclass(VideoClipTrainer, HubPushMixin)  # the library's trainer pushes through the export
    assert VideoClipTrainer.push_to_hub is HubPushMixin.push_to_hub
    assert VideoClipTrainer.create_model_card is HubPushMixin.create_model_card
    assert VideoClipTrainer._push_from_checkpoint is HubPushMixin._push_from_checkpoint


def test_push_module_exports():
    assert set(push_module.__all__) >= {"push_run", "stage_run", "HubPushMixin", "main", "add_push_parser"}


def test_staged_config_names_the_pipeline_shipped_with_the_code(tmp_path, export):
    run = make_run(tmp_path, export)
    staged = push_module.stage_run(run, tmp_path / "staged", repo_id="org/toy")
    config = json.loads((tmp_path / "staged" / "config.json").read_text())
    impl = config["custom_pipelines"]["zero-shot-video-classification"]["impl"]
    assert impl == "pipeline_video_clip.ZeroShotVideoClassificationPipeline"
    assert "pipeline_video_clip.py" in staged.files
    assert oct((tmp_path / "staged" / "config.json").stat().st_mode & 0o777) == oct(0o644)


def test_a_run_exported_by_an_older_version_is_refused_with_the_fix(tmp_path, export):
    run = make_run(tmp_path, export)
    (run / "pipeline_video_clip.py").unlink()
    with pytest.raises(ValueError, match="older hfvideoclip .*pipeline_video_clip.py.*Save it again"):
        push_module.stage_run(run, tmp_path / "staged", repo_id="org/toy")


def test_card_says_where_the_class_texts_came_from():
    from hfvideoclip.hub.model_card import class_texts_description

    def value_of(values):
        return lambda key, default=None: values.get(key, default)

    assert "28 Kinetics prompt templates" in class_texts_description({}, value_of({}))
    assert "a video of {}" in class_texts_description({}, value_of({"templates": "single"}))
    text = class_texts_description({}, value_of({"class_descriptions": "/data/label_rephrase/k400_rephrased.json"}))
    assert "FROSTER's rephrased class descriptions (`k400_rephrased.json`" in text
    ost = class_texts_description({"scoring_head": "optimal_descriptor"}, value_of({}))
    assert "OST's published descriptors" in ost
    own = class_texts_description({"scoring_head": "optimal_descriptor"},
                                  value_of({"spatial_descriptors_file": "d/spatial.json"}))
    assert "`spatial.json`" in own
