"""The training recipe behind `recipes/train.py` and `hfvideoclip train`.

`--method` selects a preset (`recipes/configs/<method>.yaml`: backbone, adaptation, objective, hyperparameters);
any flag on the command line overrides it. Without a dataset argument the recipe trains on the toy world
(`--protocol toy-b2n`, split 0) and evaluates the exported model on the splits that share that training set
(`comparable_splits`: only the trained base set for base-to-novel, every test split for cross-dataset), writing
`results.json`, `results.md`, PNGs and a model card draft next to the model.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import AutoConfig, HfArgumentParser, set_seed

from ..models.video_clip import VideoClipConfig, VideoClipModel
from ..models.video_clip.processing_video_clip import VideoClipProcessor
from ..text.templates import KINETICS_TEMPLATES, SINGLE_TEMPLATE
from .arguments import VideoClipTrainingArguments
from .objective_model import ClassTexts, VideoClipObjectiveModel
from .trainer import VideoClipTrainer

DEFAULT_TEMPORAL_MODE = {"ce": "mean", "taco": "mean", "open_vclip": "vclip", "froster": "vclip",
                         "open_mede": "vclip"}


@dataclass
class ScriptArguments:
    model: str | None = field(default=None, metadata={
        "help": "CLIP or VideoClip checkpoint (directory or Hub id); default: the shipped toy CLIP."})
    protocol: str = field(default="toy-b2n", metadata={"help": "Training/evaluation protocol."})
    split: int = field(default=0, metadata={"help": "Which split of the protocol trains (e.g. base set 0)."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where the toy videos are generated."})
    config: str | None = field(default=None, metadata={"help": "Preset YAML; default recipes/configs/<method>.yaml."})
    eval_num_clips: int = field(default=1, metadata={"help": "Temporal views at final evaluation."})
    eval_templates: str = field(default="kinetics", metadata={"help": "kinetics or single."})
    skip_final_eval: bool = field(default=False, metadata={"help": "Export only."})


def default_config_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "recipes" / "configs"


def _method_from_argv(argv: list[str]) -> str:
    for index, token in enumerate(argv):
        if token == "--method" and index + 1 < len(argv):
            return argv[index + 1]
        if token.startswith("--method="):
            return token.split("=", 1)[1]
    return "ce"


def _config_from_argv(argv: list[str]) -> str | None:
    for index, token in enumerate(argv):
        if token == "--config" and index + 1 < len(argv):
            return argv[index + 1]
        if token.startswith("--config="):
            return token.split("=", 1)[1]
    return None


def load_preset(method: str, config_path: str | None = None, config_dir: Path | None = None) -> dict:
    path = Path(config_path) if config_path else (config_dir or default_config_dir()) / f"{method}.yaml"
    if not path.is_file():
        if config_path:
            raise FileNotFoundError(f"Preset file {path} does not exist; pass an existing --config YAML.")
        return {}
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of flag names to values, got {type(data).__name__}.")
    return data


def parse_args(argv: list[str], config_dir: Path | None = None):
    preset = load_preset(_method_from_argv(argv), _config_from_argv(argv), config_dir)
    parser = HfArgumentParser((ScriptArguments, VideoClipTrainingArguments))
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(preset) - known)
    if unknown:
        raise ValueError(f"Preset for --method {_method_from_argv(argv)} has unknown fields {unknown}; "
                         "fix the YAML (field names are the command-line flags).")
    parser.set_defaults(**preset)
    if not any(token == "--output_dir" or token.startswith("--output_dir=") for token in argv):
        argv = [*argv, "--output_dir", f"runs/{_method_from_argv(argv)}"]
    return parser.parse_args_into_dataclasses(args=argv)


def load_student(path: str, args: VideoClipTrainingArguments) -> VideoClipModel:
    config = AutoConfig.from_pretrained(path)
    if config.model_type == "clip":
        mode = args.temporal_mode or DEFAULT_TEMPORAL_MODE[args.method]
        return VideoClipModel.from_clip(path, temporal_mode=mode, num_frames=args.num_frames)
    model = VideoClipModel.from_pretrained(path)
    if args.temporal_mode and args.temporal_mode != model.config.temporal_mode:
        raise ValueError(f"{path} is a {model.config.temporal_mode!r} VideoClipModel; --temporal_mode "
                         f"{args.temporal_mode} applies only when starting from a CLIP checkpoint.")
    return model


def frame_mean_copy(model: VideoClipModel) -> VideoClipModel:
    """The frozen CLIP teacher of FROSTER: the same weights, frame-wise (`mean`) backbone."""
    config = VideoClipConfig.from_dict({**model.config.to_dict(), "temporal_mode": "mean"})
    teacher = VideoClipModel(config)
    teacher.load_state_dict(model.state_dict(), strict=False)
    return teacher.eval().requires_grad_(False)


def apply_adaptation(model: VideoClipModel, args: VideoClipTrainingArguments):
    if args.adaptation == "frozen_text":
        model.text_model.requires_grad_(False)
        model.text_projection.requires_grad_(False)
        return model
    if args.adaptation == "lora":
        from peft import LoraConfig, get_peft_model

        targets = [name.strip() for name in args.lora_target_modules.split(",") if name.strip()]
        config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, target_modules=targets, lora_dropout=0.0)
        return get_peft_model(model, config)
    return model


def read_descriptions(path: str, class_names: list[str]) -> list[str]:
    """FROSTER description file `{"0": "Name: description"}` -> one description per class."""
    with open(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); expected {{\"0\": \"Name: description\"}}.") \
                from error
    missing = [str(i) for i in range(len(class_names)) if str(i) not in data]
    if missing:
        raise ValueError(f"{path} has no description for class indices {missing[:10]}; add one entry per class "
                         "index of the training vocabulary.")
    return [str(data[str(i)]).split(":", 1)[-1].strip() for i in range(len(class_names))]


def build_callbacks(args: VideoClipTrainingArguments) -> list:
    from .callbacks import EpochAveragingCallback, GaussianWeightAveragingCallback

    callbacks = []
    student_only = r"^student\."
    if args.gwa:
        callbacks.append(GaussianWeightAveragingCallback(mu=args.gwa_mu, sigma=args.gwa_sigma,
                                                         every_n_steps=args.gwa_every_n_steps,
                                                         params_filter=student_only))
    if args.average_start_epoch is not None:
        callbacks.append(EpochAveragingCallback(args.average_start_epoch, args.average_end_epoch,
                                                params_filter=student_only))
    elif args.swa:
        callbacks.append(EpochAveragingCallback(1, 10**6, params_filter=student_only))
    return callbacks


def make_exporter(processor: VideoClipProcessor, args: VideoClipTrainingArguments, zero_shot_state: dict | None):
    """Returns `export(objective, output_dir)`: merges LoRA, applies weight patching with the zero-shot CLIP
    (alpha * finetuned + (1 - alpha) * CLIP), saves the `VideoClipModel` and the processor."""

    def export(objective: VideoClipObjectiveModel, output_dir: str) -> VideoClipModel:
        student = objective.student
        if hasattr(student, "merge_and_unload"):
            student = copy.deepcopy(student).merge_and_unload()
        if args.patch_alpha is not None and zero_shot_state is not None:
            from ..objectives.weight_averaging import weight_space_ensemble

            state = student.state_dict()
            patched = weight_space_ensemble(state, {k: zero_shot_state[k] for k in state}, args.patch_alpha)
            student = copy.deepcopy(student)
            student.load_state_dict(patched)
        student.save_pretrained(output_dir)
        processor.save_pretrained(output_dir)
        return student

    return export


def build_trainer(args: VideoClipTrainingArguments, model_path: str, train_dataset, eval_dataset=None
                  ) -> VideoClipTrainer:
    """Student (+ adaptation), processor, class texts, objective module, callbacks and exporter -> trainer."""
    student = load_student(model_path, args)
    processor = VideoClipProcessor.from_pretrained(model_path, num_frames=args.num_frames)
    zero_shot_state = {k: v.detach().clone() for k, v in student.state_dict().items()} \
        if args.patch_alpha is not None else None
    frozen_teacher = frame_mean_copy(student) if args.method == "froster" else None
    student = apply_adaptation(student, args)
    class_names = train_dataset.features["label"].names
    templates = KINETICS_TEMPLATES if args.templates == "kinetics" else SINGLE_TEMPLATE
    descriptions = read_descriptions(args.description_file, class_names) if args.description_file else None
    texts = ClassTexts(processor.tokenizer, class_names, templates, descriptions)
    objective = VideoClipObjectiveModel(student, args, texts, frozen_teacher=frozen_teacher)
    return VideoClipTrainer(model=objective, args=args, processor=processor, train_dataset=train_dataset,
                            eval_dataset=eval_dataset, callbacks=build_callbacks(args),
                            export_hook=make_exporter(processor, args, zero_shot_state))


def run(script: ScriptArguments, args: VideoClipTrainingArguments) -> dict:
    from ..data.toy import load_protocol, toy_clip_path

    set_seed(args.seed)
    model_path = script.model or toy_clip_path()
    protocol = load_protocol(script.protocol, cache_dir=script.cache_dir)
    if not 0 <= script.split < len(protocol.splits):
        raise ValueError(f"--split {script.split} does not exist: {script.protocol} has {len(protocol.splits)} "
                         "splits.")
    split = protocol.splits[script.split]
    if split.train is None:
        raise ValueError(f"Protocol {script.protocol} has no training set (it is zero-shot only); use toy-b2n, "
                         "toy-xd or toy-ooc.")
    trainer = build_trainer(args, model_path, split.train, dict(split.eval))
    train_output = trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    trainer.save_model(args.output_dir)
    trainer.save_state()

    results = {"train": train_output.metrics}
    if not script.skip_final_eval and trainer.is_world_process_zero():
        results = evaluate_export(script, args, comparable_splits(protocol, script.split), model_path)
    return results


def comparable_splits(protocol, split_index: int):
    """`protocol` restricted to the splits that train on the same videos as split `split_index`.

    A model trained on one base set of a base-to-novel protocol must not be scored on another split, whose novel
    classes may be its training classes; cross-dataset splits share the source training set and all count.
    """
    def videos(split):
        return None if split.train is None else tuple(split.train["video"])

    trained = videos(protocol.splits[split_index])
    kept = [split for split in protocol.splits if videos(split) == trained]
    return dataclasses.replace(protocol, splits=kept)


def evaluate_export(script: ScriptArguments, args: VideoClipTrainingArguments, protocol, model_path: str) -> dict:
    from ..evaluation.harness import evaluate_protocol
    from ..evaluation.results import format_results_table
    from ..hub.model_card import write_model_card

    model = VideoClipModel.from_pretrained(args.output_dir).eval()
    processor = VideoClipProcessor.from_pretrained(args.output_dir)
    templates = KINETICS_TEMPLATES if script.eval_templates == "kinetics" else SINGLE_TEMPLATE
    results = evaluate_protocol(model, processor, protocol, output_dir=args.output_dir,
                                model_name=f"{args.method}:{os.path.basename(str(model_path))}",
                                templates=templates, num_clips=script.eval_num_clips,
                                batch_size=args.per_device_eval_batch_size, progress=not args.disable_tqdm)
    write_model_card(args.output_dir, method=args.method, base_model=str(model_path), results=results,
                     training_args=args)
    print(format_results_table(results))
    return results


def main(argv: list[str] | None = None, config_dir: Path | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script, args = parse_args(argv, config_dir)
    run(script, args)
    return 0


__all__ = ["ScriptArguments", "comparable_splits", "main", "parse_args", "run", "load_preset"]
