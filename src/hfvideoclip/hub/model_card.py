"""Model cards for exported runs, built with `huggingface_hub.ModelCard`, `ModelCardData` and `EvalResult`.

Each method's Jinja template is the `card.md` of its folder (`hfvideoclip/methods/<method>/card.md`, found by
the registry); a method without one gets `hub/card_templates/generic.md`. Every template extends
`hub/card_templates/_base.md`, the shared layout. An objective may also name a template with a `card_template`
class attribute (a path to a Jinja file that may `{% extends "_base.md" %}`).

What a card says comes from the run folder: `config.json` (backbone, temporal mode), `train_args.json` (every
argument with its value and source; the real training length, not Trainer's unused defaults), `trainer_state.json`
(steps and epochs actually run) and `results.json` (the `model-index` evaluation results). A local path never
reaches the card: the base model is a Hub id or nothing (`resolve_base_model`), and file arguments show their
base name only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

LIBRARY_NAME = "transformers"
"""The card's `library_name`: one the Hub knows. The model loads with transformers (`AutoModel`, the code in the
repository through `trust_remote_code=True`); the `hfvideoclip` and `custom_code` tags say the rest."""
PIPELINE_TAG = "video-classification"
"""The card's `pipeline_tag` and the `model-index` task type: the Hub's task (it has no zero-shot video task; the
`zero-shot` tag says so)."""
PIPELINE_TASK = "zero-shot-video-classification"
"""The transformers pipeline task hfvideoclip registers (`pipeline(PIPELINE_TASK, ...)`, the repository's
`config.custom_pipelines` key)."""
DEFAULT_LICENSE = "apache-2.0"
"""The card's `license` when none is given: the license of hfvideoclip (pyproject), whose code files the repository
carries for `trust_remote_code`. The weights also inherit the base model's terms (OpenAI CLIP: MIT); pass
`license=` to state another."""

TEMPLATES_DIRECTORY = Path(__file__).with_name("card_templates")
"""`_base.md` (the layout every card template extends) and `generic.md` (methods without a `card.md`)."""

HEADLINE_METRICS = {
    "top1": "Top-1 accuracy",
    "top5": "Top-5 accuracy",
    "base_top1": "Base top-1 accuracy",
    "novel_top1": "Novel top-1 accuracy",
    "hm": "Harmonic mean of base and novel top-1",
    "base_top5": "Base top-5 accuracy",
    "novel_top5": "Novel top-5 accuracy",
}
"""The metrics of `results.json` reported in `model-index` (in %, rounded to 0.01), with their display names; a
named evaluation set's `<set>_top1` / `<set>_top5` are reported too."""

FRAME_POOLINGS = {
    "features": "the frame-mean feature scored by cosine (ViFi-CLIP, TACO)",
    "logits": "per-frame logits averaged (Open-VCLIP, FROSTER)",
    "mit": "X-CLIP's multi-frame integration transformer over the frame embeddings, then the cosine against class "
           "texts prompted by the video (X-CLIP's video-specific prompt generator)",
}
VIEW_POOLINGS = {
    "probabilities": "the mean of the views' softmax (ViFi-CLIP, OST)",
    "logits": "the softmax of the views' averaged logits (Open-VCLIP, FROSTER)",
}
TEMPORAL_MODES = {
    "mean": "frame-wise CLIP, the frame embeddings averaged into the video embedding (as ViFi-CLIP). It does not "
            "see frame order: a clip and its reverse get the same embedding",
    "vclip": "Open-VCLIP neighbour-frame attention: in every vision block the queries of frame t attend to the "
             "tokens of frames t-1, t and t+1 (no new parameters; CLIP's weights load unchanged). The neighbours "
             "form an unordered set, so the model is blind to the direction of time",
    "viclip": "ViCLIP joint space-time attention over the patches of all frames, with a learned temporal "
              "positional embedding: it sees frame order",
    "xclip": "X-CLIP (transformers' `XCLIPModel`): cross-frame communication tokens in every vision block and a "
             "multi-frame integration transformer with frame positions: it sees frame order",
}
ADAPTATIONS = {
    "full": "every weight of both towers fine-tuned",
    "frozen_text": "vision tower fine-tuned; text tower and text projection frozen",
    "lora": "LoRA adapters (peft) on `{lora_target_modules}` (rank {lora_r}, alpha {lora_alpha}), merged into the "
            "weights at export; the adapter alone is in `adapter/`",
    "msta": "MSTA adapters (vision and text bottlenecks sharing one middle projection per block, a temporal "
            "convolution on the video side); the towers are frozen and the adapters cannot be merged: they are "
            "part of the model (`adapter` in config.json), and alone in `msta/`",
    "adapter": "AdaptFormer-style bottleneck adapters in both towers (towers frozen), part of the model (`adapter` "
               "in config.json) and alone in `msta/`",
    "st_adapter": "ST-Adapters (bottleneck with a depthwise 3D convolution over the patch grid, before each vision "
                  "block's attention) with CLIP frozen, part of the model (`adapter` in config.json)",
    "prompts": "deep visual prompts (VPT-deep: learnable tokens after the class token in every vision block) with "
               "CLIP frozen, part of the model (`adapter` in config.json)",
}
PROTOCOLS = {
    "toy-b2n": "the toy world's base-to-novel protocol: procedurally rendered videos of coloured shapes moving; "
               "training on base motion-shape classes, evaluation on base and held-out novel classes",
    "toy-xd": "the toy world's cross-dataset protocol: training on a source vocabulary of toy motions, evaluation "
              "on new class vocabularies (3 splits)",
    "toy-still": "the toy world's zero-shot protocol on still shapes (seen versus held-out colour-shape pairs)",
    "toy-ooc": "the toy world's out-of-context protocol: static cues contradict the training correlation",
}
_SHOWN_ARGUMENTS = (
    "adaptation", "temporal_mode", "num_frames", "templates", "learning_rate", "projection_learning_rate",
    "lr_scheduler_type", "warmup_steps", "warmup_ratio", "weight_decay", "optim", "adam_beta1", "adam_beta2",
    "max_grad_norm", "per_device_train_batch_size", "gradient_accumulation_steps", "max_steps",
    "num_train_epochs", "seed", "bf16", "fp16", "augment", "crop_min_area", "horizontal_flip",
    "grayscale_probability", "color_jitter_probability", "patch_alpha", "label_smoothing_factor",
)
_ADAPTATION_ARGUMENTS = {"lora": ("lora_r", "lora_alpha", "lora_target_modules"),
                         "msta": ("msta_dim", "msta_start_layer", "msta_end_layer", "msta_scale", "msta_dropout",
                                  "msta_towers")}
_ADAPTATION_ARGUMENTS["adapter"] = _ADAPTATION_ARGUMENTS["msta"]
_ADAPTATION_ARGUMENTS["st_adapter"] = ("st_adapter_dim", "st_adapter_kernel_size", "st_adapter_position")
_ADAPTATION_ARGUMENTS["prompts"] = ("prompt_tokens", "prompt_dropout")
_OPERATIONAL_ARGUMENTS = {
    "output_dir", "cache_dir", "config", "logging_dir", "logging_steps", "logging_strategy", "logging_first_step",
    "save_steps", "save_strategy", "save_total_limit", "save_only_model", "eval_strategy", "eval_steps",
    "report_to", "disable_tqdm", "run_name", "project", "resume_from_checkpoint", "overwrite_output_dir",
    "per_device_eval_batch_size", "eval_num_clips", "eval_templates", "skip_final_eval", "bad_video",
    "push_to_hub", "hub_model_id", "hub_strategy", "hub_private_repo", "hub_revision", "hub_always_push",
    "use_cpu", "local_rank", "ddp_backend", "ddp_timeout", "log_level", "log_level_replica", "method", "model",
    "protocol", "split", "do_train", "do_eval", "do_predict",
}


# ------------------------------------------------------------------------------------------------ templates
def card_template_path(method: str | None) -> Path:
    """The template a card for `method` is rendered from: the objective's `card_template` if it names one, else
    the method folder's `card.md`, else `generic.md`."""
    custom = _objective_attribute(method, "card_template")
    if custom:
        return Path(custom)
    if method:
        from ..methods import get_method

        try:
            folder_template = get_method(str(method)).card_template
        except ValueError:
            folder_template = None
        if folder_template:
            return Path(folder_template)
    return TEMPLATES_DIRECTORY / "generic.md"


def _objective_attribute(method: str | None, name: str) -> Any:
    if not method:
        return None
    from ..methods import get_method

    try:
        return getattr(get_method(str(method)).objective_class, name, None)
    except ValueError:
        return None


def _method_description(method: str | None) -> str:
    """The registered method's one-line `description` (its objective class's), or the method name."""
    return _objective_attribute(method, "description") or str(method or "video-text fine-tuning")


# ------------------------------------------------------------------------------------------------ base model
def is_hub_id(name: str | None) -> bool:
    """Whether `name` reads as a Hub repository id (`org/name` or a legacy `name`) and is not a local path here."""
    if not name:
        return False
    name = str(name)
    if os.path.isabs(name) or name.startswith((".", "~")) or "\\" in name or name.count("/") > 1:
        return False
    if os.path.exists(name):
        return False
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def resolve_base_model(name_or_path: str | os.PathLike | None) -> str | None:
    """The Hub id a run started from, or None: a Hub id as it is; a local directory gives the Hub id its
    `config.json` records (`_name_or_path`), its `adapter_config.json` (`base_model_name_or_path`) or its own
    model card (`base_model`) when that is one. A local path is never returned."""
    if not name_or_path:
        return None
    name = str(name_or_path)
    if is_hub_id(name):
        return name
    folder = Path(name)
    if not folder.is_dir():
        return None
    for file_name, key in (("config.json", "_name_or_path"), ("config.json", "name_or_path"),
                           ("adapter_config.json", "base_model_name_or_path")):
        value = _read_json(folder / file_name).get(key)
        if isinstance(value, str) and is_hub_id(value):
            return value
    readme = folder / "README.md"
    if readme.is_file():
        try:
            base = ModelCard.load(readme).data.get("base_model")
        except Exception:  # an unparsable README says nothing about the base model
            base = None
        base = base[0] if isinstance(base, list) and base else base
        if isinstance(base, str) and is_hub_id(base):
            return base
    return None


def _read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# ------------------------------------------------------------------------------------------------ arguments
def argument_values(training_args: Any) -> dict[str, tuple[Any, str | None]]:
    """`{name: (value, source)}` from a `train_args.json` dict (`{"arguments": {name: {"value", "source"}}}`), a
    plain dict of values, or a `TrainingArguments` object (source None)."""
    if training_args is None:
        return {}
    if isinstance(training_args, Mapping):
        arguments = training_args.get("arguments")
        if isinstance(arguments, Mapping):
            return {name: (entry.get("value"), entry.get("source")) if isinstance(entry, Mapping) else (entry, None)
                    for name, entry in arguments.items()}
        return {name: (value, None) for name, value in training_args.items()}
    if hasattr(training_args, "to_dict"):
        return {name: (value, None) for name, value in training_args.to_dict().items()}
    if dataclasses.is_dataclass(training_args):
        return {name: (value, None) for name, value in dataclasses.asdict(training_args).items()}
    return {name: (value, None) for name, value in vars(training_args).items()}


def recorded_base_model(training_args: Any) -> str | None:
    """The `--model` a recorded run started from: its value, or the shipped toy CLIP when the recipe ran without
    `--model` (its default); None when nothing was recorded."""
    values = argument_values(training_args)
    if "model" not in values:
        return None
    if values["model"][0]:
        return str(values["model"][0])
    from ..toy import toy_clip_path

    return str(toy_clip_path())


def _display_value(name: str, value: Any) -> str:
    """A value as the card shows it: file arguments by base name (a local path never reaches the card)."""
    if isinstance(value, str) and (name.endswith(("_file", "_dir", "_path")) or os.path.isabs(value)
                                   or os.sep in value and os.path.exists(value)):
        return f"`{os.path.basename(value.rstrip('/')) or value}` (local file)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def training_length(values: Mapping[str, tuple[Any, str | None]], trainer_state: Mapping | None = None) -> str:
    """One sentence on how long the run trained: the steps and epochs actually run (trainer_state.json) or, without
    it, the budget that applied (`max_steps` when > 0, which makes `num_train_epochs` moot; else the epochs)."""
    def value(name):
        return values.get(name, (None, None))[0]

    max_steps = value("max_steps")
    epochs = value("num_train_epochs")
    batch = value("per_device_train_batch_size")
    accumulation = value("gradient_accumulation_steps") or 1
    per_step = f" of {batch} clips per device" if batch else ""
    per_step += f" x {accumulation} accumulation steps" if accumulation and int(accumulation) > 1 else ""
    state = trainer_state or {}
    if state.get("global_step"):
        done = f"{int(state['global_step'])} optimizer steps{per_step}"
        if state.get("epoch") is not None:
            done += f" ({float(state['epoch']):.3g} epochs of the training set)"
        budget = (f"`max_steps` {int(max_steps)}" if max_steps is not None and int(max_steps) > 0
                  else f"`num_train_epochs` {float(epochs):g}" if epochs is not None else None)
        return f"Trained for {done}" + (f"; budget: {budget}." if budget else ".")
    if max_steps is not None and int(max_steps) > 0:
        return f"Trained for {int(max_steps)} optimizer steps{per_step} (`max_steps`; `num_train_epochs` unused)."
    if epochs is not None:
        return f"Trained for {float(epochs):g} epochs{per_step} (`num_train_epochs`)."
    return "Training length not recorded."


def hyperparameter_rows(values: Mapping[str, tuple[Any, str | None]], method: str | None) -> list[tuple[str, str, str]]:
    """`(name, value, source)` rows of the arguments that shaped the model: the shared optimisation and data flags,
    the adaptation's own flags, the method's config fields, and any other flag set by the preset or the command
    line; Trainer's unused `num_train_epochs` is left out when `max_steps` applies, token-like fields never shown,
    and so is every argument the run ignored or that was set to a no-op (`inactive_arguments`)."""
    if not values:
        return []
    adaptation = values.get("adaptation", (None, None))[0]
    names = list(_SHOWN_ARGUMENTS) + list(_ADAPTATION_ARGUMENTS.get(str(adaptation), ()))
    config_class = _objective_attribute(method, "config_class")
    if config_class is not None and dataclasses.is_dataclass(config_class):
        names += [f.name for f in dataclasses.fields(config_class)]
    names += sorted(name for name, (_, source) in values.items() if source in ("preset", "command line"))
    max_steps = values.get("max_steps", (None, None))[0]
    skip = set(_OPERATIONAL_ARGUMENTS) | inactive_arguments(values, method)
    if max_steps is not None and int(max_steps) > 0:
        skip.add("num_train_epochs")
    else:
        skip.add("max_steps")
    rows, seen = [], set()
    for name in names:
        if name in seen or name in skip or name not in values or "token" in name.lower():
            continue
        seen.add(name)
        if (name.startswith(("lora_", "msta_", "st_adapter_", "prompt_"))
                and name not in _ADAPTATION_ARGUMENTS.get(str(adaptation), ())):
            continue
        value, source = values[name]
        if value is None and source in (None, "default"):
            continue
        rows.append((name, _display_value(name, value), source or "-"))
    return rows


_NO_OP_VALUES = {"label_smoothing_factor": 0, "weight_decay": 0, "warmup_steps": 0, "warmup_ratio": 0,
                 "grayscale_probability": 0, "color_jitter_probability": 0, "patch_alpha": 1, "fp16": False,
                 "bf16": False, "gradient_accumulation_steps": 1}
"""Values that leave training (or the export) as it would be without the argument."""
_AUGMENTATION_ARGUMENTS = ("crop_min_area", "horizontal_flip", "grayscale_probability", "color_jitter_probability")


def inactive_arguments(values: Mapping[str, tuple[Any, str | None]], method: str | None) -> set[str]:
    """The recorded arguments that did not shape the model, left out of the card's hyperparameters:

    - a no-op value (`_NO_OP_VALUES`: no label smoothing, no weight decay, no warmup, fp16/bf16 off, ...) and a
      `max_grad_norm` of 0 or None (no clipping);
    - what the run ignored: the augmentation flags with `--augment false`, the Adam betas with a non-Adam `optim`,
      warmup with the `constant` scheduler;
    - what the method's config says it ignored (`MethodConfig.inactive_fields`: e.g. `projection_learning_rate`
      for a method without heads, SWA / GWA settings with averaging off)."""
    def value(name):
        return values.get(name, (None, None))[0]

    inactive = set()
    for name, no_op in _NO_OP_VALUES.items():
        found = value(name)
        if found is not None and (found == no_op if isinstance(no_op, bool) else
                                  not isinstance(found, bool) and _is_number(found) and float(found) == no_op):
            inactive.add(name)
    clip = value("max_grad_norm")
    if "max_grad_norm" in values and (clip is None or _is_number(clip) and float(clip) <= 0):
        inactive.add("max_grad_norm")
    if value("augment") is False:
        inactive.update(_AUGMENTATION_ARGUMENTS)
    if value("optim") is not None and "adam" not in str(value("optim")).lower():
        inactive.update(("adam_beta1", "adam_beta2", "adam_epsilon"))
    if str(value("lr_scheduler_type")) in ("constant", "SchedulerType.CONSTANT"):
        inactive.update(("warmup_steps", "warmup_ratio"))
    config_class = _objective_attribute(method, "config_class")
    if config_class is not None and dataclasses.is_dataclass(config_class):
        names = {f.name for f in dataclasses.fields(config_class) if f.init}
        try:
            config = config_class(**{name: value(name) for name in names if name in values})
            inactive.update(config.inactive_fields())
        except Exception:  # a config recorded by another version: its own fields are shown as they are
            pass
    return inactive


def _markdown_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ results
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(float(value))


def reported_metrics(metrics: Mapping[str, Any]) -> list[str]:
    """The metric names of `metrics` that go into `model-index`, in display order (`HEADLINE_METRICS`, then
    named evaluation sets' `<set>_top1` / `<set>_top5`)."""
    names = [name for name in HEADLINE_METRICS if _is_number(metrics.get(name))]
    for name, value in metrics.items():
        stem, _, kind = name.rpartition("_")
        if kind in ("top1", "top5") and stem and "_" not in stem and stem not in ("base", "novel") \
                and name not in names and _is_number(value):
            names.append(name)
    return names


def _metric_label(name: str) -> str:
    if name in HEADLINE_METRICS:
        return HEADLINE_METRICS[name]
    stem, _, kind = name.rpartition("_")
    return f"{stem} top-{kind[-1]} accuracy"


def _percent(value: float) -> float:
    return round(100.0 * float(value), 2)


def _table_percent(value: Any) -> str:
    return f"{100.0 * float(value):.1f}" if _is_number(value) else "-"


def _task_name(metrics: Mapping[str, Any]) -> str:
    if "hm" in metrics or "novel_top1" in metrics:
        return "Open-vocabulary video recognition (base-to-novel)"
    return "Open-vocabulary video recognition (zero-shot)"


def eval_results_from(results: Mapping | None) -> list[EvalResult]:
    """`EvalResult`s of a `results.json` dict: per split (`dataset_split` = the split's name) the reported metrics
    in %, and with several splits their mean too (`dataset_split` None, "mean over N splits" in the dataset name).
    `dataset_type` is the protocol name. Empty when the run was not evaluated."""
    if not results or not isinstance(results.get("per_split"), list) or not results.get("protocol"):
        return []
    protocol = str(results["protocol"])
    per_split = [entry for entry in results["per_split"] if isinstance(entry, Mapping)]
    entries = [(str(entry.get("split")), protocol, entry.get("metrics") or {}) for entry in per_split]
    if len(per_split) > 1 and results.get("metrics"):
        entries.append((None, f"{protocol} (mean over {len(per_split)} splits)", results["metrics"]))
    out = []
    for split, dataset_name, metrics in entries:
        for name in reported_metrics(metrics):
            out.append(EvalResult(task_type=PIPELINE_TAG, task_name=_task_name(metrics), dataset_type=protocol,
                                  dataset_name=dataset_name, dataset_split=split, metric_type=name,
                                  metric_name=_metric_label(name), metric_value=_percent(metrics[name])))
    return out


def results_table(results: Mapping | None) -> str:
    """Markdown table of the reported metrics in %: one row per split, then mean ± std over splits."""
    if not results or not results.get("per_split"):
        return ""
    per_split = [entry for entry in results["per_split"] if isinstance(entry, Mapping)]
    columns: list[str] = []
    for entry in per_split:
        columns += [name for name in reported_metrics(entry.get("metrics") or {}) if name not in columns]
    if not columns:
        return ""
    rows = [(entry.get("split"), *[_table_percent(entry["metrics"].get(c)) for c in columns]) for entry in per_split]
    if len(per_split) > 1:
        metrics = results.get("metrics") or {}
        cells = []
        for column in columns:
            mean, std = metrics.get(column), metrics.get(f"{column}_std")
            cells.append(_table_percent(mean) if not _is_number(std) or not _is_number(mean)
                         else f"{_table_percent(mean)} ± {_table_percent(std)}")
        rows.append(("mean ± std", *cells))
    return _markdown_table(("split", *columns), rows)


# ------------------------------------------------------------------------------------------------ backbone
def backbone_description(config: Mapping) -> str:
    """`ViT-B/16 (width 768, 12 layers, 224 px)`-style description of a VideoClip config.json."""
    vision = config.get("vision_config") or {}
    width, layers = vision.get("hidden_size"), vision.get("num_hidden_layers")
    patch, size = vision.get("patch_size"), vision.get("image_size")
    if not width:
        return "CLIP vision and text towers"
    known = {(768, 12, 16): "ViT-B/16", (768, 12, 32): "ViT-B/32", (1024, 24, 14): "ViT-L/14"}
    name = known.get((width, layers, patch), "ViT")
    if config.get("model_type") == "video_xclip":
        name = f"X-CLIP {name}"
    text = config.get("text_config") or {}
    text_part = f"; text transformer width {text.get('hidden_size')}, {text.get('num_hidden_layers')} layers" \
        if text.get("hidden_size") else ""
    return (f"{name} vision tower (width {width}, {layers} layers, patch {patch}, {size} px){text_part}; "
            f"joint embedding dimension {config.get('projection_dim')}")


def _data_description(values: Mapping[str, tuple[Any, str | None]], results: Mapping | None) -> str:
    def value(name):
        return values.get(name, (None, None))[0]

    dataset_name = value("dataset_name")
    if dataset_name:
        config = value("dataset_config_name")
        return f"The `datasets` dataset `{dataset_name}`" + (f" (config `{config}`)" if config else "") + "."
    own = [value(name) for name in ("train_dir", "train_file") if value(name)]
    if own:
        return (f"The user's own videos (`{os.path.basename(str(own[0]).rstrip('/'))}`, a local folder or list); "
                "describe them here before publishing.")
    protocol = value("protocol") or (results or {}).get("protocol")
    if not protocol:
        return "Not recorded (no `train_args.json` next to the model); describe the training data here."
    split = value("split")
    about = PROTOCOLS.get(str(protocol), "a registered hfvideoclip protocol")
    split_text = f", training split {int(split) + 1} (`--split {split}`)" if split is not None else ""
    return f"Protocol `{protocol}`{split_text}: {about}."


# ------------------------------------------------------------------------------------------------ the card
def build_model_card(*, method: str | None, base_model: str | None = None, results: Mapping | None = None,
                     training_args: Any = None, repo_id: str | None = None, license: str | None = None,
                     run_dir: str | os.PathLike | None = None, model_name: str | None = None) -> ModelCard:
    """The card of an exported model, rendered from the method family's template.

    Args:
        method: the registered method (picks the template; unknown names get `generic`).
        base_model: what the run started from (a Hub id, or a local path resolved by `resolve_base_model`).
        results: the `results.json` dict (None: read `run_dir/results.json` if there).
        training_args: a `train_args.json` dict, a `TrainingArguments` or None (read `run_dir/train_args.json`,
            which wins over a `TrainingArguments` object: it has the method's fields and every value's source).
        repo_id: the Hub repository the card is for (names it in the usage snippet and the title).
        license: the `license` field (default `DEFAULT_LICENSE`).
        run_dir: the exported model folder (config.json, trainer_state.json, adapter folders, descriptors).
        model_name: the title and `model-index` name (default: the repository name or the run folder's name).
    """
    import jinja2

    run = Path(run_dir) if run_dir is not None else None
    saved_args = _read_json(run / "train_args.json") if run is not None else {}
    if saved_args:
        training_args = saved_args
    values = argument_values(training_args)
    if results is None and run is not None:
        results = _read_json(run / "results.json") or None
    if results is not None and "per_split" not in results:
        results = None  # a train-only summary ({"train": ...}): not evaluated
    method = method or (values.get("method", (None, None))[0]) or None
    config = _read_json(run / "config.json") if run is not None else {}
    trainer_state = _read_json(run / "trainer_state.json") if run is not None else {}
    base_model = base_model or recorded_base_model(training_args)
    hub_base = resolve_base_model(base_model)
    name = model_name or (repo_id.split("/")[-1] if repo_id else None) \
        or (run.resolve().name if run is not None else None) or f"{method}-video-clip"

    def value(key, default=None):
        found = values.get(key, (None, None))[0]
        return default if found is None else found

    temporal_mode = config.get("temporal_mode") or value("temporal_mode") or "mean"
    # Configs saved before the pooling fields existed: VideoClipConfig's defaults for their temporal mode.
    frame_pooling = config.get("frame_pooling") or ("logits" if temporal_mode == "vclip" else "features")
    view_pooling = config.get("view_pooling") or ("logits" if temporal_mode == "vclip" else "probabilities")
    adaptation = str(value("adaptation", "full"))
    adaptation_text = ADAPTATIONS.get(adaptation, f"`{adaptation}`")
    counts = training_args.get("trainable_parameters") if isinstance(training_args, Mapping) else None
    trainable_text = (f"{counts['trainable']:,} of {counts['total']:,} parameters "
                      f"({100 * counts['trainable'] / max(counts['total'], 1):.2f} %)" if counts else "not recorded")
    if adaptation == "lora":
        adaptation_text = adaptation_text.format(lora_target_modules=value("lora_target_modules", "q_proj,v_proj"),
                                                 lora_r=value("lora_r", 8), lora_alpha=value("lora_alpha", 16))
    protocol = (results or {}).get("protocol") or value("protocol")
    eval_results = eval_results_from(results)
    dataset_name = value("dataset_name")
    tags = ["zero-shot", "hfvideoclip", str(method), "custom_code", "video", "clip", "open-vocabulary", "video-text",
            f"temporal-{temporal_mode}", adaptation]
    if protocol and str(protocol).startswith("toy-"):
        tags.append("toy-world")
    card_data = ModelCardData(
        license=license or DEFAULT_LICENSE, library_name=LIBRARY_NAME, pipeline_tag=PIPELINE_TAG,
        tags=list(dict.fromkeys(tags)), base_model=hub_base,
        datasets=[dataset_name] if dataset_name and is_hub_id(dataset_name) else None,
        model_name=name if eval_results else None, eval_results=eval_results or None)
    files = set(os.listdir(run)) if run is not None and run.is_dir() else set()
    custom_pipelines = config.get("custom_pipelines") or {}
    if base_model and not hub_base:
        base_text = (f"a local checkpoint (`{os.path.basename(str(base_model).rstrip('/'))}`, not on the Hub)")
    elif hub_base:
        base_text = f"[`{hub_base}`](https://huggingface.co/{hub_base})"
    else:
        base_text = "not recorded"
    context = dict(
        card_data=card_data.to_yaml(), model_name=name, repo_id=repo_id or "path/to/this/model", method=method,
        method_description=_method_description(method), license=card_data.license,
        base_model=hub_base, base_model_text=base_text, backbone=backbone_description(config),
        temporal_mode=temporal_mode, temporal_text=TEMPORAL_MODES.get(temporal_mode, temporal_mode),
        num_frames=config.get("num_frames") or value("num_frames"), scoring_head=config.get("scoring_head", "cosine"),
        frame_pooling=frame_pooling, frame_pooling_text=FRAME_POOLINGS.get(frame_pooling, frame_pooling),
        view_pooling=view_pooling, view_pooling_text=VIEW_POOLINGS.get(view_pooling, view_pooling),
        adaptation=adaptation, adaptation_text=adaptation_text, trainable_text=trainable_text, data_text=_data_description(values, results),
        protocol=protocol, toy=bool(protocol and str(protocol).startswith("toy-")),
        length_text=training_length(values, trainer_state) if values else "Hyperparameters not recorded (no "
        "`train_args.json` next to the model).",
        hyperparameters=_markdown_table(("argument", "value", "source"), hyperparameter_rows(values, method))
        if values else "", preset=os.path.basename(str(training_args.get("preset") or ""))
        if isinstance(training_args, Mapping) else "",
        results_table=results_table(results), evaluated=bool(eval_results),
        eval_num_clips=value("eval_num_clips", None) or _default_num_clips(protocol),
        eval_templates=value("eval_templates", "kinetics"),
        has_adapter="adapter" in files or adaptation == "lora", has_msta="msta" in files or adaptation in ("msta",
                                                                                                         "adapter"),
        built_in_adapter=bool(config.get("adapter")),
        class_texts_text=class_texts_description(config, value),
        has_descriptors="descriptors.json" in files, has_plots=any(f.startswith("plot_") for f in files),
        remote_pipeline=PIPELINE_TASK in custom_pipelines, version=_library_version(),
    )
    template_path = card_template_path(method)
    loader = jinja2.FileSystemLoader([str(template_path.parent), str(TEMPLATES_DIRECTORY)])
    environment = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=True, lstrip_blocks=True, autoescape=False)
    content = environment.get_template(template_path.name).render(**context)
    while "\n\n\n" in content:
        content = content.replace("\n\n\n", "\n\n")
    return ModelCard(content)


def class_texts_description(config: Mapping, value) -> str:
    """Where the class texts the model was trained and evaluated with came from (one sentence for the card)."""
    def name(path) -> str:
        return os.path.basename(str(path).rstrip("/").split(",")[0])

    if config.get("scoring_head") == "optimal_descriptor":
        files = [value(f"{kind}_descriptors_file", None) for kind in ("spatial", "temporal")]
        if any(files):
            source = "the descriptor files " + ", ".join(f"`{name(f)}`" for f in files if f)
        elif value("official_descriptors", True) in (True, "true", "True", None):
            source = "OST's published descriptors (shipped with hfvideoclip, MIT) where they describe a class"
        else:
            source = "the template fallback"
        return (f"spatial and temporal descriptors per class from {source}, else the template fallback; "
                "`descriptors.json` keeps them by class name")
    descriptions = value("class_descriptions", None) or value("description_file", None)
    if descriptions:
        return (f"FROSTER's rephrased class descriptions (`{name(descriptions)}`, the user's copy: CC BY-NC-SA, not "
                "shipped): each prompt template filled with the name then the description, plus the bare description")
    templates = value("templates", "kinetics")
    return ("the 28 Kinetics prompt templates filled with the class name" if templates == "kinetics"
            else 'one template, "a video of {}."')


def _library_version() -> str:
    from .. import __version__

    return __version__


def write_model_card(output_dir: str, *, method: str, base_model: str | None, results: Mapping | None,
                     training_args=None, repo_id: str | None = None, license: str | None = None) -> str:
    """Write `output_dir/README.md` for the exported model there and return its path (see `build_model_card`;
    `output_dir` is the run folder). `recipes/push_to_hub.py` regenerates it for the repository it uploads to."""
    card = build_model_card(method=method, base_model=base_model, results=results, training_args=training_args,
                            repo_id=repo_id, license=license, run_dir=output_dir)
    path = os.path.join(output_dir, "README.md")
    card.save(path)
    return path


__all__ = ["DEFAULT_LICENSE", "HEADLINE_METRICS", "LIBRARY_NAME", "PIPELINE_TAG", "PIPELINE_TASK",
           "TEMPLATES_DIRECTORY", "argument_values", "backbone_description",
           "build_model_card", "card_template_path", "eval_results_from", "hyperparameter_rows",
           "inactive_arguments",
           "is_hub_id", "recorded_base_model", "reported_metrics", "resolve_base_model", "results_table",
           "training_length", "write_model_card"]


def _default_num_clips(protocol) -> int:
    """The recipe's default test views when the run recorded none (`evaluation.cli.default_num_clips`)."""
    from ..evaluation.cli import default_num_clips

    return default_num_clips(str(protocol or "toy-"))

