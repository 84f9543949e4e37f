"""Publishing a run on the Hub: stage what a user of the model needs in a clean folder, regenerate the card for the
repository, upload it in one commit.

    python recipes/push_to_hub.py RUN_DIR --repo org/name [--dry-run] [--staging-dir S] [--private]
        [--commit-message M] [--license L] [--revision BRANCH] [--include-trainer-state] [--no-adapter]
        [--keep-card]
    hfvideoclip push RUN_DIR --repo org/name ...

Staged from RUN_DIR (the folder `recipes/train.py` exported to): the safetensors weights, `config.json` (with its
`auto_map`) and the `*.py` code files `trust_remote_code` loads, the processor files, `descriptors.json` (OST),
the `msta/` adapter folder (msta / adapter runs, whose model holds the adapters too: `adapter` in config.json),
the `adapter/` LoRA folder (LoRA runs: the merged model is what
loads; its `adapter_config.json` names the base model as a Hub id, or none), `results.json`, `results.md`,
`plot_*.png`, `train_args.json` and a `README.md` card regenerated for the repository (`hub.model_card`). Never
staged: `checkpoint-*/` folders, optimizer, scheduler and RNG states, `training_args.bin`; `trainer_state.json`
only on request. Every staged file is world-readable (0644, folders 0755): `save_pretrained` writes weights 0600.

The token is the one `huggingface_hub` finds (`HF_TOKEN` or `huggingface-cli login`): there is no token flag and
nothing here prints it; staging refuses a folder whose text files contain it.

`HubPushMixin` makes a `Trainer` subclass push through the same path (the exported model, our card) instead of
uploading its training module.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGED_PATTERNS = (
    "config.json", "*.safetensors", "*.safetensors.index.json", "*.py",
    "processor_config.json", "video_preprocessor_config.json", "preprocessor_config.json",
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
    "added_tokens.json", "descriptors.json", "results.json", "results.md", "plot_*.png", "train_args.json",
)
"""Top-level files of a run folder that go to the Hub (anything else is left out and listed)."""
ADAPTER_FOLDERS = {"msta": "MSTA / adapter weights", "adapter": "LoRA adapter"}
ADAPTER_FOLDER_PATTERNS = ("adapter_config.json", "*.safetensors")
TRAINER_STATE = "trainer_state.json"
CARD_NAME = "README.md"
FILE_MODE = 0o644
FOLDER_MODE = 0o755
_LEFT_OUT_REASONS = (
    ("checkpoint-*", "training checkpoint (objective, optimizer and scheduler states)"),
    (TRAINER_STATE, "trainer state (pass --include-trainer-state to publish it)"),
    ("optimizer*", "optimizer state"), ("scheduler*", "scheduler state"), ("rng_state*", "RNG state"),
    ("training_args.bin", "pickled TrainingArguments (train_args.json is published instead)"),
    ("*.bin", "non-safetensors weights"), ("*.pt", "torch pickle"), ("*.pth", "torch pickle"),
    (CARD_NAME, "replaced by the card regenerated for the repository"), ("runs", "logger output"),
)


@dataclass
class StagedRun:
    """What `stage_run` / `push_run` did: the staging folder, the staged files (paths relative to it, sorted),
    what was left out and why, the repository and commit message; after an upload, its `url` and `commit`."""

    run_dir: Path
    staging_dir: Path
    repo_id: str
    commit_message: str
    files: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    commit: Any = None


# ------------------------------------------------------------------------------------------------ run facts
def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _run_method(train_args: dict) -> str | None:
    method = train_args.get("method")
    if method:
        return str(method)
    value = (train_args.get("arguments") or {}).get("method")
    return str(value.get("value")) if isinstance(value, dict) and value.get("value") else None


def default_commit_message(run_dir: str | os.PathLike, method: str | None = None,
                           results: dict | None = None) -> str:
    """`Upload hfvideoclip run <folder name> (method <m>, <protocol>)`."""
    details = [f"method {method}"] if method else []
    if results and results.get("protocol"):
        details.append(str(results["protocol"]))
    suffix = f" ({', '.join(details)})" if details else ""
    return f"Upload hfvideoclip run {Path(run_dir).resolve().name}{suffix}"


def check_exported_model(run_dir: str | os.PathLike) -> dict:
    """The run folder's `config.json`, after checking that the folder holds an exported `VideoClipModel` with
    safetensors weights, an `auto_map` and a saved processor; a ValueError says what is missing."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder.")
    config_path = run / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{run_dir} has no config.json: it is not an exported model folder. Push the --output_dir "
                         "of a finished `recipes/train.py` run (checkpoint-* folders hold the training module, not "
                         "the model).")
    config = _read_json(config_path)
    if config.get("model_type") != "video_clip":
        raise ValueError(f"{config_path}: model_type {config.get('model_type')!r}, expected 'video_clip'; push a "
                         "folder exported by hfvideoclip (VideoClipModel.save_pretrained).")
    if not any(run.glob("*.safetensors")):
        extra = " (it has only .bin weights: load and save_pretrained it again)" if any(run.glob("*.bin")) else ""
        raise ValueError(f"{run_dir} has no safetensors weights{extra}.")
    if not (config.get("auto_map") or {}).get("AutoModel"):
        raise ValueError(f"{config_path} has no auto_map for AutoModel: save the model after `import hfvideoclip` "
                         "(which registers it for trust_remote_code) so that its code files are copied.")
    if not (run / "processor_config.json").is_file():
        raise ValueError(f"{run_dir} has no processor_config.json: save the processor next to the model "
                         "(VideoClipProcessor.save_pretrained(run_dir)).")
    stale = [name for name, present in (
        ("processor_config.json auto_map", (_read_json(run / "processor_config.json").get("auto_map") or {})
         .get("AutoProcessor")),
        ("pipeline_video_clip.py", (run / "pipeline_video_clip.py").is_file())) if not present]
    if (run / "msta" / "adapter_config.json").is_file() and not config.get("adapter"):
        raise ValueError(f"{config_path} has no `adapter` field but {run / 'msta'} holds MSTA / adapter weights: a "
                         "Hub repository made from it would load the base model without them. Save it again with "
                         "this version: from hfvideoclip.loading import load_video_clip_model; "
                         "load_video_clip_model(run_dir).to_video_clip_model().save_pretrained(run_dir).")
    if stale:
        raise ValueError(f"{run_dir} was exported by an older hfvideoclip (no {' and no '.join(stale)}): a Hub "
                         "repository made from it would not load its processor or pipeline without the package. "
                         "Save it again with this version: model = VideoClipModel.from_pretrained(run_dir); "
                         "model.save_pretrained(run_dir); VideoClipProcessor.from_pretrained(run_dir)"
                         ".save_pretrained(run_dir).")
    return config


# ------------------------------------------------------------------------------------------------ staging
def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _left_out_reason(name: str, is_dir: bool) -> str:
    for pattern, reason in _LEFT_OUT_REASONS:
        if fnmatch.fnmatchcase(name, pattern):
            return reason
    return "not part of a published model" + (" (folder)" if is_dir else "")


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, FOLDER_MODE)
    shutil.copyfile(source, target)
    os.chmod(target, FILE_MODE)


def _write_json(target: Path, data: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n")
    os.chmod(target, FILE_MODE)


def _prepare_staging_dir(staging_dir: str | os.PathLike | None) -> Path:
    if staging_dir is None:
        path = Path(tempfile.mkdtemp(prefix="hfvideoclip-push-"))
    else:
        path = Path(staging_dir)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ValueError(f"--staging-dir {staging_dir} exists and is not empty: pass a new or empty folder "
                             "(whatever is in it would be uploaded too).")
        path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, FOLDER_MODE)
    return path


def _relative_imports(source: str) -> set[str]:
    modules = set(re.findall(r"^\s*from\s+\.([A-Za-z_]\w*)\s+import\s", source, flags=re.MULTILINE))
    for names in re.findall(r"^\s*from\s+\.\s+import\s+([\w\s,()]+)$", source, flags=re.MULTILINE):
        modules.update(name.strip() for name in re.split(r"[,()\s]+", names) if name.strip())
    return modules


def _check_code_files(staging: Path) -> None:
    """Every module an `auto_map` names, and every sibling a staged code file imports relatively, is staged."""
    missing = []
    for file_name in ("config.json", "processor_config.json"):
        for target in (_read_json(staging / file_name).get("auto_map") or {}).values():
            for reference in (target if isinstance(target, (list, tuple)) else [target]):
                if isinstance(reference, str) and "." in reference:
                    module = reference.split("--")[-1].rsplit(".", 1)[0]
                    if not (staging / f"{module}.py").is_file():
                        missing.append(f"{module}.py (auto_map of {file_name})")
    for code in sorted(staging.glob("*.py")):
        for module in sorted(_relative_imports(code.read_text(errors="replace"))):
            if not (staging / f"{module}.py").is_file():
                missing.append(f"{module}.py (imported by {code.name})")
    if missing:
        raise ValueError("The run folder lacks code files trust_remote_code needs: " + ", ".join(missing)
                         + ". Save the model and processor again with hfvideoclip imported.")


def _known_tokens() -> list[str]:
    tokens = [os.environ.get(name) for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")]
    try:
        from huggingface_hub import get_token

        tokens.append(get_token())
    except Exception:  # no stored login, or an older huggingface_hub
        pass
    return sorted({token for token in tokens if token and len(token) >= 8})


def _check_no_token(staging: Path, files: list[str]) -> None:
    """Refuse to publish a text file holding the Hub token (never names the token)."""
    tokens = [token.encode() for token in _known_tokens()]
    if not tokens:
        return
    for name in files:
        path = staging / name
        if path.suffix in (".safetensors", ".png") or path.stat().st_size > 50_000_000:
            continue
        data = path.read_bytes()
        if any(token in data for token in tokens):
            raise ValueError(f"{name} contains your Hugging Face access token; remove it from the run folder "
                             "before pushing.")


def _mask_token_arguments(train_args: dict) -> dict:
    arguments = train_args.get("arguments")
    if isinstance(arguments, dict):
        for name, entry in arguments.items():
            if "token" in name.lower() and isinstance(entry, dict) and entry.get("value") not in (None, ""):
                entry["value"] = f"<{name.upper()}>"
    return train_args


def stage_run(run_dir: str | os.PathLike, staging_dir: str | os.PathLike | None = None, *,
              repo_id: str | None = None, commit_message: str | None = None, include_trainer_state: bool = False,
              include_adapter: bool = True, keep_card: bool = False, license: str | None = None,
              method: str | None = None, base_model: str | None = None) -> StagedRun:
    """Copy the publishable files of `run_dir` into `staging_dir` (default: a new temporary folder; a given one must
    be new or empty) and write the card for `repo_id` there.

    Args:
        include_trainer_state: also stage `trainer_state.json` (loss curves, steps).
        include_adapter: stage a LoRA run's `adapter/` folder next to the merged model.
        keep_card: stage the run's own README.md instead of regenerating it.
        license, method, base_model: override what the card reads from `train_args.json` (see
            `hub.model_card.build_model_card`); `base_model` is published only as a Hub id.
    """
    from .model_card import build_model_card, recorded_base_model, resolve_base_model

    run = Path(run_dir)
    check_exported_model(run)
    train_args = _read_json(run / "train_args.json")
    results = _read_json(run / "results.json") or None
    method = method or _run_method(train_args)
    base_model = base_model or recorded_base_model(train_args)
    hub_base = resolve_base_model(base_model)
    repo_id = repo_id or run.resolve().name
    staging = _prepare_staging_dir(staging_dir)
    staged = StagedRun(run_dir=run, staging_dir=staging, repo_id=repo_id,
                       commit_message=commit_message or default_commit_message(run, method, results))

    for entry in sorted(run.iterdir()):
        name = entry.name
        if entry.is_dir():
            if name in ADAPTER_FOLDERS and (include_adapter or name != "adapter"):
                _stage_adapter_folder(entry, staging / name, staged, hub_base)
            else:
                reason = ("LoRA adapter (include_adapter=False)" if name in ADAPTER_FOLDERS
                          else _left_out_reason(name, True))
                staged.left_out[f"{name}/"] = reason
            continue
        if name == TRAINER_STATE and include_trainer_state:
            _copy(entry, staging / name)
        elif name == CARD_NAME and keep_card:
            _copy(entry, staging / name)
        elif name == "train_args.json":
            _write_json(staging / name, _mask_token_arguments(_read_json(entry)))
        elif name == "config.json":  # + custom_pipelines: pipeline(task, model=repo_id, trust_remote_code=True)
            from ..models.video_clip.pipeline_video_clip import CUSTOM_PIPELINES

            _write_json(staging / name, {**_read_json(entry), "custom_pipelines": CUSTOM_PIPELINES})
        elif _matches(name, STAGED_PATTERNS):
            _copy(entry, staging / name)
        else:
            staged.left_out[name] = _left_out_reason(name, False)
            continue
        staged.files.append(name)

    if not keep_card or not (staging / CARD_NAME).is_file():
        card = build_model_card(method=method, base_model=base_model, results=results,
                                training_args=train_args or None, repo_id=repo_id, license=license, run_dir=run)
        card.save(staging / CARD_NAME)
        os.chmod(staging / CARD_NAME, FILE_MODE)
        if CARD_NAME not in staged.files:
            staged.files.append(CARD_NAME)
    staged.files.sort()
    _check_code_files(staging)
    _check_no_token(staging, staged.files)
    return staged


def _stage_adapter_folder(source: Path, target: Path, staged: StagedRun, hub_base: str | None) -> None:
    """An adapter folder's config and weights, its `base_model_name_or_path` a Hub id or null (never a local path);
    peft's draft README (which names the local base path) is left out."""
    for entry in sorted(source.iterdir()):
        relative = f"{source.name}/{entry.name}"
        if entry.is_file() and entry.name == "adapter_config.json":
            config = _read_json(entry)
            if "base_model_name_or_path" in config:
                config["base_model_name_or_path"] = hub_base
            _write_json(target / entry.name, config)
        elif entry.is_file() and _matches(entry.name, ADAPTER_FOLDER_PATTERNS):
            _copy(entry, target / entry.name)
        else:
            staged.left_out[relative] = ("peft's draft card (names local paths)" if entry.name == CARD_NAME
                                         else _left_out_reason(entry.name, entry.is_dir()))
            continue
        staged.files.append(relative)
    if target.is_dir():
        os.chmod(target, FOLDER_MODE)


# ------------------------------------------------------------------------------------------------ upload
def push_run(run_dir: str | os.PathLike, repo_id: str, dry_run: bool = False,
             staging_dir: str | os.PathLike | None = None, *, private: bool = False, commit_message: str | None = None,
             include_trainer_state: bool = False, include_adapter: bool = True, keep_card: bool = False,
             license: str | None = None, method: str | None = None, base_model: str | None = None,
             revision: str | None = None, api=None) -> StagedRun:
    """Stage `run_dir` (`stage_run`) and upload it to the model repository `repo_id` in one commit.

    `dry_run`: stage only (no network); the staging folder is kept for inspection. Otherwise the repository is
    created if needed (`HfApi.create_repo(exist_ok=True)`, `private` applies to a new one), the card names the
    repository id the Hub resolved, `upload_folder` commits the staged folder with `commit_message` (default:
    names the run) on `revision` (a branch, created if missing), and a temporary staging folder is removed.
    `api`: an `HfApi` (default `HfApi()`, whose token is `HF_TOKEN` or the stored login).
    """
    options = dict(commit_message=commit_message, include_trainer_state=include_trainer_state,
                   include_adapter=include_adapter, keep_card=keep_card, license=license, method=method,
                   base_model=base_model)
    if dry_run:
        return stage_run(run_dir, staging_dir, repo_id=repo_id, **options)
    check_exported_model(run_dir)  # fail before any network call
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    url = api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    repo_id = getattr(url, "repo_id", None) or repo_id
    staged = stage_run(run_dir, staging_dir, repo_id=repo_id, **options)
    try:
        if revision:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True, repo_type="model")
        staged.commit = api.upload_folder(repo_id=repo_id, folder_path=str(staged.staging_dir),
                                          commit_message=staged.commit_message, repo_type="model", revision=revision)
    finally:
        if staging_dir is None:
            shutil.rmtree(staged.staging_dir, ignore_errors=True)
    staged.url = str(url)
    return staged


# ------------------------------------------------------------------------------------------------ Trainer
class HubPushMixin:
    """`push_to_hub` for a `transformers.Trainer` subclass whose user-facing `save_model` exports the model
    (`VideoClipTrainer`): list it first, `class VideoClipTrainer(HubPushMixin, Trainer)`.

    - `push_to_hub` exports to `args.output_dir` (`save_model`, the exporter: the `VideoClipModel`, not the training
      objective) and uploads that folder with `push_run` (our card, staged files only) to `args.hub_model_id`
      (default: the output folder's name), private per `args.hub_private_repo`, on `args.hub_revision`.
    - `create_model_card` keeps hfvideoclip's card (Trainer's would describe the objective module).
    - No pushes from checkpoints during training (`--hub_strategy` pushes would upload the objective's weights
      over the export): the run is pushed once, by `push_to_hub` after training and evaluation.
    """

    def create_model_card(self, *args, **kwargs) -> None:
        """Keep the card hfvideoclip writes next to the model (`hub.model_card`); Trainer's draft is not written."""
        return None

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        """Checkpoints hold the whole training objective: nothing is pushed from them."""
        return None

    def push_to_hub(self, commit_message: str | None = None, blocking: bool = True, token: str | None = None,
                    revision: str | None = None, private: bool | None = None, license: str | None = None,
                    **kwargs) -> Any:
        """Export, then upload the exported run folder with `push_run`; returns the commit info on the main
        process (None elsewhere). The upload always blocks. `token` / `args.hub_token` are used when set, else
        `HF_TOKEN` or the stored login; Trainer's model-card keyword arguments do not apply and are ignored."""
        if getattr(self, "_hfvideoclip_pushing", False):
            return None
        if getattr(self, "exporter", None) is None:
            raise ValueError("push_to_hub needs the trainer's exporter (the model users load); build the trainer with "
                             "hfvideoclip.training.build_trainer, or export and call hfvideoclip.hub.push.push_run.")
        self._hfvideoclip_pushing = True
        try:
            self.callback_handler.on_push_begin(self.args, self.state, self.control)
            output_dir = self.args.output_dir
            self.save_model(output_dir)
            if not self.is_world_process_zero():
                return None
            if hasattr(self, "_finish_current_push"):
                self._finish_current_push()
            from huggingface_hub import HfApi

            token = token if token is not None else getattr(self.args, "hub_token", None)
            repo_id = getattr(self, "hub_model_id", None) or self.args.hub_model_id \
                or Path(output_dir).absolute().name
            private = private if private is not None else bool(getattr(self.args, "hub_private_repo", False))
            staged = push_run(output_dir, repo_id, private=private, commit_message=commit_message,
                              revision=revision or getattr(self.args, "hub_revision", None), license=license,
                              api=HfApi(token=token))
            return staged.commit
        finally:
            self._hfvideoclip_pushing = False


# ------------------------------------------------------------------------------------------------ command line
def _add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="the exported run folder (recipes/train.py --output_dir)")
    parser.add_argument("--repo", required=True, help="model repository id, org/name (or name: your namespace)")
    parser.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
                        help="stage and list the files only; nothing is uploaded")
    parser.add_argument("--staging-dir", "--staging_dir", dest="staging_dir",
                        help="new or empty folder to stage in (default: a temporary folder)")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--commit-message", "--commit_message", dest="commit_message",
                        help="default: 'Upload hfvideoclip run <folder> (method ..., protocol)'")
    parser.add_argument("--revision", help="branch to commit to (created if missing); default: main")
    parser.add_argument("--license", help="license field of the card (default: apache-2.0, hfvideoclip's)")
    parser.add_argument("--include-trainer-state", "--include_trainer_state", dest="include_trainer_state",
                        action="store_true", help="also publish trainer_state.json")
    parser.add_argument("--no-adapter", "--no_adapter", dest="include_adapter", action="store_false",
                        help="LoRA runs: leave the adapter/ folder out (the merged model is always pushed)")
    parser.add_argument("--keep-card", "--keep_card", dest="keep_card", action="store_true",
                        help="publish the run's own README.md instead of regenerating the card")
    parser.set_defaults(func=run_from_args)
    return parser


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of `recipes/push_to_hub.py` (and `hfvideoclip push`)."""
    description = ("Upload an exported hfvideoclip run to the Hugging Face Hub. The token is HF_TOKEN or your "
                   "`huggingface-cli login`; there is no token flag.")
    return _add_arguments(argparse.ArgumentParser(prog=prog, description=description))


def add_push_parser(subparsers) -> argparse.ArgumentParser:
    """Add `push` to a CLI's subparsers (`hfvideoclip push RUN_DIR --repo ...`); its `func` runs the push."""
    parser = subparsers.add_parser("push", help="upload an exported run to the Hugging Face Hub",
                                   description=build_parser().description)
    return _add_arguments(parser)


def run_from_args(args: argparse.Namespace) -> int:
    """Run a parsed push command; prints the staged files and where they went (never the token)."""
    try:
        staged = push_run(args.run_dir, args.repo, dry_run=args.dry_run, staging_dir=args.staging_dir,
                          private=args.private, commit_message=args.commit_message, revision=args.revision,
                          include_trainer_state=args.include_trainer_state, include_adapter=args.include_adapter,
                          keep_card=args.keep_card, license=args.license)
    except Exception as error:  # the Hub's client errors (offline, no route, 401/403/404) in one line
        if not _is_hub_error(error):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"pushing {args.run_dir} to {args.repo} failed ({type(error).__name__}: {first}); check "
                         "the network and your token (`hf auth login` or HF_TOKEN), or stage only with --dry-run."
                         ) from None
    print(f"staged {len(staged.files)} files for {staged.repo_id} in {staged.staging_dir}:")
    for name in staged.files:
        print(f"  {name}")
    if staged.left_out:
        print("left out:")
        for name, reason in staged.left_out.items():
            print(f"  {name}: {reason}")
    print(f"commit message: {staged.commit_message}")
    if args.dry_run:
        print("dry run: nothing uploaded")
    else:
        print(f"uploaded to {staged.url}")
    return 0


def _is_hub_error(error: BaseException) -> bool:
    """An error of the Hub client or the network below it (huggingface_hub, httpx, requests, urllib3, sockets)."""
    module = type(error).__module__.split(".")[0]
    return module in ("huggingface_hub", "httpx", "httpcore", "requests", "urllib3") or isinstance(
        error, (ConnectionError, TimeoutError))


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Entry point of `recipes/push_to_hub.py`; bad input: one line on stderr, exit code 2."""
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


__all__ = ["ADAPTER_FOLDERS", "STAGED_PATTERNS", "HubPushMixin", "StagedRun", "add_push_parser", "build_parser",
           "check_exported_model", "default_commit_message", "main", "push_run", "run_from_args", "stage_run"]
