"""The training recipe behind `recipes/train.py` and `hfvideoclip train`: parse, build, train, export, evaluate.

`--method` picks a registered method and its preset (shipped in the package); every flag on the command line
overrides the preset. Data: a registered protocol (`--protocol`, default the toy world's `toy-b2n`, split
`--split`) or your own videos (`--dataset_name`, `--train_dir`/`--validation_dir`, `--train_file`/
`--validation_file`). The exported model is evaluated on the splits that share its training set
(`comparable_splits`), writing `results.json`, `results.md`, plots and a model card next to the model, and
`train_args.json` records every resolved argument and where its value came from.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field, fields

from transformers import HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..adapters import available_adaptations
from ..argparse_errors import one_line_errors
from ..data.own_data import VideoDataArguments, resolve_data
from ..loading import XCLIP_MODEL_TYPES, checkpoint_model_type
from ..methods import MethodConfig, available_methods, get_method
from .arguments import VideoClipTrainingArguments
from .builder import build_trainer
from .presets import available_presets, paper_preset_path, paper_presets, read_preset
from .run_folder import check_resume_arguments, guard_output_dir, whole_run_train_loss


@dataclass
class ScriptArguments:
    _argument_group_name = "model, protocol and final evaluation"

    model: str | None = field(default=None, metadata={
        "help": "CLIP or VideoClip checkpoint (directory or Hub id), e.g. openai/clip-vit-base-patch16; default on "
                "the toy protocols: the shipped toy CLIP (name it with --model toy-clip for other data)."})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "Replace the run already in --output_dir (its checkpoint-* folders are removed); without it such a "
                "folder is refused unless --resume_from_checkpoint continues it."})
    protocol: str = field(default="toy-b2n", metadata={
        "help": "Registered protocol to train and evaluate on (hfvideoclip.data.available_protocols())."})
    split: int = field(default=0, metadata={"help": "Which split of the protocol trains (e.g. base set 0)."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where protocol videos are generated or cached."})
    data_dir: str | None = field(default=None, metadata={
        "help": "The benchmark's videos and annotation files for b2n-*, xd-*, fs* protocols (`hfvideoclip data "
                "list` says what each needs)."})
    protocol_params: str | None = field(default=None, metadata={
        "help": "JSON object of the protocol's own parameters, e.g. '{\"shots\": 16, \"motions\": [\"moving left\", "
                "\"moving right\"]}' (toy protocols: hfvideoclip.toy.protocols.resolve_params)."})
    config: str | None = field(default=None, metadata={
        "help": "Preset YAML replacing the method's shipped preset (flag names as keys)."})
    preset: str | None = field(default=None, metadata={
        "help": "A paper preset <method>/<setting> (e.g. taco/k400; listed below, docs/reproduction.md) replacing "
                "the toy preset: the paper's recipe; it implies its method."})
    total_batch_size: int | None = field(default=None, metadata={
        "help": "Total batch per optimizer step, kept on any number of processes: gradient_accumulation_steps = "
                "total / (per_device_train_batch_size x processes), with a notice when that changes it."})
    eval_num_clips: int | None = field(default=None, metadata={
        "help": "Temporal views at final evaluation (default: 3 on the real benchmarks' protocols, 1 on the toy "
                "world and your own data)."})
    eval_templates: str = field(default="kinetics", metadata={"help": "kinetics or single."})
    skip_final_eval: bool = field(default=False, metadata={"help": "Export only."})
    zero_shot_baseline: bool = field(default=True, metadata={
        "help": "At the final evaluation, also score the starting model zero-shot on the same videos (the last row "
                "of results.md, `baseline` in results.json); false halves the evaluation time."})


@dataclass
class RecipeArguments:
    """Everything `parse_args` resolved; unpacks as `script, training, method = parse_args(...)`."""

    script: ScriptArguments
    data: VideoDataArguments
    training: VideoClipTrainingArguments
    method: MethodConfig
    preset_path: str | None
    sources: dict[str, str]

    def __iter__(self):
        return iter((self.script, self.training, self.method))

    def to_json(self) -> dict:
        """`{"method", "preset", "arguments": {name: {"value", "source"}}}` for `train_args.json`."""
        values = {**dataclasses.asdict(self.script), **dataclasses.asdict(self.data), **self.training.to_dict(),
                  **dataclasses.asdict(self.method)}
        arguments = {name: {"value": value, "source": self.sources.get(name, "default")}
                     for name, value in sorted(values.items())}
        return {"method": self.training.method, "preset": self.preset_path, "arguments": arguments}


def _flag_value(argv: list[str], name: str) -> str | None:
    for index, token in enumerate(argv):
        if token == f"--{name}" and index + 1 < len(argv):
            return argv[index + 1]
        if token.startswith(f"--{name}="):
            return token.split("=", 1)[1]
    return None


def _command_line_flags(argv: list[str]) -> set[str]:
    """Names of the flags given on the command line (`--name`, `--name=value`, `--no_name`)."""
    names = set()
    for token in argv:
        if token.startswith("--"):
            name = token[2:].split("=", 1)[0]
            names.add(name)
            if name.startswith("no_"):
                names.add(name[3:])
    return names


def _with_resume_value(argv: list[str]) -> list[str]:
    """`--resume_from_checkpoint` without a value means "the last checkpoint in --output_dir" (`true`)."""
    out = []
    for index, token in enumerate(argv):
        out.append(token)
        if token == "--resume_from_checkpoint" and (index + 1 == len(argv) or argv[index + 1].startswith("--")):
            out.append("true")
    return out


def check_no_shared_flag(name: str, config_class: type) -> None:
    """A method's config may not redefine a shared training flag (one flag, one meaning)."""
    shared = {f.name for f in fields(VideoClipTrainingArguments)}
    clash = sorted(f.name for f in fields(config_class) if f.name in shared)
    if clash:
        raise ValueError(f"Method {name!r}: config fields {clash} are already flags of VideoClipTrainingArguments; "
                         "rename them in the method's config.")


def build_parser(method: str) -> HfArgumentParser:
    """The recipe's parser for `method`: script, own-data, Trainer and the method's own flags (own `--help` group)."""
    spec = get_method(method)
    check_no_shared_flag(method, spec.config_class)
    epilog = (f"methods: {', '.join(available_methods())}; adaptations: {', '.join(available_adaptations())}; "
              f"method presets (each method folder's preset.yaml): "
              f"{', '.join(p for p in available_presets() if '/' not in p)}. "
              f"--method {method} uses preset {spec.preset or 'none'}. Paper presets (--preset, the papers' recipes; "
              f"docs/reproduction.md): {', '.join(paper_presets())}.")
    return one_line_errors(HfArgumentParser(
        (ScriptArguments, VideoDataArguments, VideoClipTrainingArguments, spec.config_class),
        prog="hfvideoclip train", epilog=epilog, formatter_class=argparse.ArgumentDefaultsHelpFormatter))


def parse_args(argv: list[str]) -> RecipeArguments:
    """Resolve the command line: the method's preset (or `--config`), then the flags on top."""
    argv = _with_resume_value(list(argv))
    config_path = _flag_value(argv, "config")
    method = _flag_value(argv, "method")
    paper = _flag_value(argv, "preset")
    if paper is not None:
        if config_path is not None:
            raise ValueError("--preset and --config both replace the method's preset; pass only one of them.")
        config_path = paper_preset_path(paper)
        preset_method = paper.split("/")[0]
        if method is not None and method != preset_method:
            raise ValueError(f"--preset {paper} is a preset of method {preset_method!r}, not --method {method!r}; "
                             "drop --method (the preset implies it) or pick a preset of that method.")
        method = preset_method
    if method is None and config_path is not None:
        method = read_preset(config_path).get("method")
    method = method or "ce"
    spec = get_method(method)
    preset_path = config_path or spec.preset
    preset = read_preset(preset_path) if preset_path else {}
    if preset.get("method", method) != method:
        raise ValueError(f"{preset_path} is a preset for method {preset['method']!r}, not {method!r}; drop --method "
                         "or pass a preset of that method.")
    parser = build_parser(method)
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(preset) - known)
    if unknown:
        raise ValueError(f"Preset {preset_path} has unknown fields {unknown}; fix the YAML (field names are the "
                         "command-line flags; see hfvideoclip train --method {method} --help).")
    parser.set_defaults(**preset)
    given = _command_line_flags(argv)
    _check_preset_files(preset, given, paper or preset_path)
    if "output_dir" not in given:
        argv = [*argv, "--output_dir", f"runs/{method}"]
    script, data, training, method_config = parser.parse_args_into_dataclasses(args=argv)
    resolve_total_batch_size(script, training, given, preset)
    method_config.validate(training)
    if ("dataloader_pin_memory" not in given and "dataloader_pin_memory" not in preset
            and training.dataloader_pin_memory and training.device.type != "cuda"):
        training.dataloader_pin_memory = False  # pinned memory only speeds up copies to a CUDA device
    sources = {name: "preset" for name in preset}
    sources.update({name: "command line" for name in given if name in known})
    return RecipeArguments(script, data, training, method_config, preset_path, sources)


_USER_FILES = ("class_descriptions",)
"""Preset fields naming a file the user supplies (FROSTER's rephrased class names): checked before parsing."""


def _check_preset_files(preset: dict, given: set[str], preset_name: str | None) -> None:
    """A paper preset's `class_descriptions` names FROSTER's files by their place in the FROSTER repository; when
    they are not there (and the flag is not on the command line), say where to get them, in one line."""
    for name in _USER_FILES:
        value = preset.get(name)
        if not value or name in given:
            continue
        missing = [part for part in str(value).split(",") if part and not os.path.exists(part)]
        if missing:
            raise ValueError(f"{preset_name} trains with FROSTER's rephrased class names (--{name}), but "
                             f"{missing[0]} does not exist here: copy label_rephrase/ and zs_label_db/ of the FROSTER "
                             f"repository (Visual-AI/FROSTER) into this folder, or pass --{name} PATH.")


def resolve_total_batch_size(script: ScriptArguments, training: VideoClipTrainingArguments, given: set[str],
                             preset: dict | None = None) -> None:
    """`--total_batch_size`: keep the total batch per optimizer step on this run's process count by setting
    `gradient_accumulation_steps` = total / (per-device batch x processes), with a one-line notice when that is not
    the preset's own layout (its GPU count: total / (its per-device batch x its accumulation steps))."""
    total = script.total_batch_size
    if total is None:
        return
    if total < 1:
        raise ValueError(f"--total_batch_size must be a positive number of clips, got {total}.")
    per_device, processes = training.per_device_train_batch_size, training.world_size
    steps = training.gradient_accumulation_steps
    if per_device * processes * steps == total:
        return
    if "gradient_accumulation_steps" in given:
        raise ValueError(f"--gradient_accumulation_steps {steps} x --per_device_train_batch_size {per_device} x "
                         f"{processes} process(es) is {per_device * processes * steps}, not --total_batch_size "
                         f"{total}; drop --gradient_accumulation_steps (the recipe derives it from the total batch).")
    if total % (per_device * processes):
        raise ValueError(f"--total_batch_size {total} is not a multiple of --per_device_train_batch_size "
                         f"{per_device} x {processes} process(es); pick a per-device batch that divides it.")
    training.gradient_accumulation_steps = total // (per_device * processes)
    preset = preset or {}
    layout = preset.get("per_device_train_batch_size"), preset.get("gradient_accumulation_steps", 1)
    assumed = (f"; the preset assumes {total // (layout[0] * layout[1])} GPUs x {layout[0]} x {layout[1]}"
               if layout[0] and total % (layout[0] * layout[1]) == 0 else "")
    if training.should_log:
        print(f"notice: total batch {total} kept on {processes} process(es) as {per_device} per device x "
              f"{training.gradient_accumulation_steps} gradient accumulation steps{assumed}.")


def resolve_checkpoint(args: VideoClipTrainingArguments) -> str | None:
    """`--resume_from_checkpoint`: `true` (or the flag alone) -> the last checkpoint in `--output_dir`; a path ->
    that checkpoint; unset / `false` -> None."""
    value = args.resume_from_checkpoint
    if value is None or str(value).lower() in ("", "false", "no", "0"):
        return None
    if str(value).lower() in ("true", "yes", "1"):
        last = get_last_checkpoint(args.output_dir) if os.path.isdir(args.output_dir) else None
        if last is None:
            raise ValueError(f"--resume_from_checkpoint: no checkpoint-* folder in --output_dir {args.output_dir}; "
                             "train without the flag first, or pass a checkpoint folder.")
        return last
    if not os.path.isdir(value):
        raise ValueError(f"--resume_from_checkpoint {value}: no such checkpoint folder.")
    return value


TOY_CLIP_NAME = "toy-clip"
"""`--model toy-clip`: the shipped toy CLIP (414 k parameters, 32-pixel frames), named explicitly."""


def base_model_path(script: ScriptArguments, data: VideoDataArguments) -> str:
    """`--model`, `toy-clip` resolved; without `--model` the toy CLIP, on the toy protocols only: a 32-pixel toy
    model trained on real videos is meaningless, so other data needs a model named."""
    from ..toy import toy_clip_path

    if script.model == TOY_CLIP_NAME:
        return toy_clip_path()
    if script.model:
        return script.model
    own = [f"--{name}" for name, value in dataclasses.asdict(data).items() if value and name in _DATA_SOURCES]
    if own or not script.protocol.startswith("toy-"):
        source = " / ".join(own) if own else f"--protocol {script.protocol}"
        raise ValueError(f"{source} needs a base model: pass --model openai/clip-vit-base-patch16 (or another CLIP "
                         f"or VideoClip checkpoint); --model {TOY_CLIP_NAME} trains the 32-pixel toy CLIP on it.")
    return toy_clip_path()


_DATA_SOURCES = ("dataset_name", "train_dir", "train_file")


def describe_base_model(model_path: str, trainer) -> str:
    """One line: the starting checkpoint, its size and frame size, and what trains."""
    from ..methods.base import base_model

    model = base_model(trainer.model.student)
    total = sum(p.numel() for p in model.parameters())
    size = f"{total / 1e6:.1f} M" if total >= 1e6 else f"{total / 1e3:.0f} k"
    config = model.config
    return (f"base model: {model_path} ({size} parameters, {config.vision_config.image_size}-pixel frames, "
            f"temporal_mode {config.temporal_mode}, frame_pooling {config.frame_pooling})")


def warn_if_processes_were_dropped() -> None:
    """`accelerate launch --num_processes N` without `--multi_gpu` (on CPU) starts one process and says nothing:
    its simple launcher sets MASTER_ADDR for N > 1 but no WORLD_SIZE. Say so in one line."""
    launched = any(name.startswith("ACCELERATE_") for name in os.environ)
    if launched and "MASTER_ADDR" in os.environ and "WORLD_SIZE" not in os.environ:
        print("warning: accelerate launch asked for several processes but started one; on CPU add --multi_gpu "
              "(ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N ...).", file=sys.stderr)


def starting_model(model_path: str, trained_config, output_dir: str):
    """The run's starting checkpoint as a `VideoClipModel` that scores as the trained one: its temporal mode,
    frames, pooling and scoring head; an OST head reads the run's `descriptors.json` (in `output_dir`)."""
    from ..loading import load_video_clip_model

    model = load_video_clip_model(model_path, temporal_mode=trained_config.temporal_mode,
                                  num_frames=trained_config.num_frames, vclip_edge=trained_config.vclip_edge)
    model.config.frame_pooling = trained_config.frame_pooling
    model.config.view_pooling = trained_config.view_pooling
    if model.config.scoring_head != trained_config.scoring_head:
        model.set_scoring_head(trained_config.scoring_head)
    if trained_config.scoring_head == "optimal_descriptor":
        model.name_or_path = output_dir  # class_bank reads descriptors.json from the model's folder
    return model.eval()


def write_training_curves(log_history: list[dict], output_dir: str, title: str) -> None:
    """`training_curves.png` (loss, its terms and the learning rate per step) in the run folder."""
    from ..evaluation.training_curves import CURVES_FILE, plot_training_curves

    try:
        plot_training_curves(log_history, os.path.join(output_dir, CURVES_FILE), title=title)
    except ValueError as error:  # no loss was logged (--logging_steps above the steps run)
        print(f"no {CURVES_FILE}: {error}")


def _checkpoint_step(checkpoint: str) -> int:
    path = os.path.join(checkpoint, "trainer_state.json")
    if os.path.isfile(path):
        with open(path) as handle:
            return int(json.load(handle).get("global_step", 0))
    return 0


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


def parse_protocol_params(text: str | None) -> dict:
    """`--protocol_params` as a dict (empty when not given); a clear error for anything but a JSON object."""
    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--protocol_params is not valid JSON ({error}); write an object such as "
                         "'{\"shots\": 16}'.") from None
    if not isinstance(params, dict):
        raise ValueError(f"--protocol_params must be a JSON object of parameter names, got {text!r}; e.g. "
                         "'{\"shots\": 16}'.")
    return params


def run(parsed: RecipeArguments) -> dict:
    """Train, export to `--output_dir`, evaluate on the comparable splits; returns the results dict."""
    script, data, args = parsed.script, parsed.data, parsed.training
    set_seed(args.seed)
    warn_if_processes_were_dropped()
    model_path = base_model_path(script, data)
    # A wrong --model fails here, before any data is generated. An X-CLIP model has its own temporal modelling and
    # frame pooling: the preset's (a CLIP backbone's) are dropped; given on the command line, the builder refuses them.
    if checkpoint_model_type(model_path) in XCLIP_MODEL_TYPES:
        for name in ("temporal_mode", "frame_pooling"):
            if parsed.sources.get(name) == "preset":
                setattr(args, name, None)
    protocol_params = parse_protocol_params(script.protocol_params)
    if script.data_dir:
        protocol_params["data_dir"] = script.data_dir
    protocol = resolve_data(script.protocol, cache_dir=script.cache_dir, **dataclasses.asdict(data),
                            protocol_params=protocol_params or None)
    if not 0 <= script.split < len(protocol.splits):
        raise ValueError(f"--split {script.split} does not exist: {protocol.name} has {len(protocol.splits)} splits.")
    split = protocol.splits[script.split]
    if split.train is None:
        raise ValueError(f"{protocol.name} has no training set (it is zero-shot only); pick a protocol with "
                         "training data or pass --train_dir / --train_file / --dataset_name.")
    if args.class_descriptions and not script.skip_final_eval:  # every vocabulary scored at the end is described
        from ..text.class_descriptions import match_class_descriptions

        for kept in comparable_splits(protocol, script.split).splits:
            for dataset in (kept.eval or {}).values():
                match_class_descriptions(dataset.features["label"].names, args.class_descriptions)
    resume = resolve_checkpoint(args)
    removed = guard_output_dir(args.output_dir, overwrite=script.overwrite_output_dir, resuming=resume is not None)
    if removed and args.should_save:
        print(f"--overwrite_output_dir: removed the earlier run's {', '.join(removed)} from {args.output_dir}")
    if resume is not None:
        check_resume_arguments(resume, parsed.to_json())
    trainer = build_trainer(args, model_path, split.train, dict(split.eval) or None, method_config=parsed.method)
    if trainer.is_world_process_zero():
        print(describe_base_model(model_path, trainer))
        if resume is not None:
            print(f"resuming from {resume}")
    if args.should_save:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "train_args.json"), "w") as handle:
            json.dump({**parsed.to_json(), "trainable_parameters": trainer.trainable_parameters}, handle, indent=2,
                      default=str)
    train_output = trainer.train(resume_from_checkpoint=resume)
    if resume is not None:  # the Trainer's train_loss averages the resumed steps only
        train_output.metrics["train_loss"] = whole_run_train_loss(
            train_output.metrics["train_loss"], trainer.state.global_step, _checkpoint_step(resume),
            trainer.state.log_history)
    trainer.save_model(args.output_dir)
    trainer.save_state()
    if trainer.is_world_process_zero():
        write_training_curves(trainer.state.log_history, args.output_dir, f"{args.method}: {args.output_dir}")

    trainer.accelerator.wait_for_everyone()  # the export is on disk before any process reloads it

    skipped_training = 0
    if args.bad_video == "skip":  # distinct files over all epochs and processes
        from accelerate.utils import gather_object

        skipped_training = len(set(gather_object(sorted(trainer.skipped_video_paths))))
    results = {"train": train_output.metrics}
    evaluated = not script.skip_final_eval and any(s.eval for s in protocol.splits)
    if evaluated:  # every process scores its shard; the main one writes the files
        results = evaluate_export(script, args, comparable_splits(protocol, script.split), model_path,
                                  is_main=trainer.is_world_process_zero())
    if args.bad_video == "skip":
        results["skipped_training_videos"] = skipped_training  # training files that could not be decoded
        if evaluated and trainer.is_world_process_zero():
            from ..evaluation.results import write_results

            write_results(results, args.output_dir)
        if trainer.is_world_process_zero():
            print(f"skipped (undecodable): {skipped_training} training videos, "
                  f"{results.get('skipped_videos', 0)} evaluation videos")
    if args.push_to_hub:  # the exported model, our card and results, through hfvideoclip.hub.push
        trainer.push_to_hub(commit_message=f"hfvideoclip train --method {args.method}: "
                                           f"{os.path.basename(os.path.abspath(args.output_dir))}")
    if trainer.is_world_process_zero():
        print(f"\nmodel:     {args.output_dir}  (AutoModel.from_pretrained / pipeline)")
        print(f"arguments: {os.path.join(args.output_dir, 'train_args.json')}")
        if evaluated:
            print(f"results:   {os.path.join(args.output_dir, 'results.json')}, results.md, plot_*.png, README.md, "
                  "training_curves.png")
    return results


def evaluate_export(script: ScriptArguments, args: VideoClipTrainingArguments, protocol, model_path: str,
                    is_main: bool = True) -> dict:
    """Score the exported model in `--output_dir` on `protocol`; the main process writes results, plots and card."""
    from ..evaluation.cli import default_num_clips
    from ..evaluation.harness import evaluate_protocol
    from ..evaluation.results import format_results_table
    from ..hub.model_card import write_model_card
    from ..loading import load_video_clip_model
    from ..models.video_clip.processing_video_clip import VideoClipProcessor
    from ..text.templates import KINETICS_TEMPLATES, SINGLE_TEMPLATE

    model = load_video_clip_model(args.output_dir).eval()
    processor = VideoClipProcessor.from_pretrained(args.output_dir)
    templates = KINETICS_TEMPLATES if script.eval_templates == "kinetics" else SINGLE_TEMPLATE
    num_clips = script.eval_num_clips
    if num_clips is None:  # own data is named after its files, not after --protocol
        num_clips = default_num_clips(protocol.name, own_data=protocol.name != script.protocol)
    options = dict(templates=templates, num_clips=num_clips, batch_size=args.per_device_eval_batch_size,
                   progress=not args.disable_tqdm, bad_video=args.bad_video, num_workers=args.dataloader_num_workers,
                   class_descriptions=args.class_descriptions)
    results = evaluate_protocol(model, processor, protocol, output_dir=args.output_dir,
                                model_name=f"{args.method}:{os.path.basename(str(model_path))}", **options)
    if script.zero_shot_baseline:  # the starting model, scored as the trained one is (same head, pooling, texts)
        start = starting_model(model_path, model.config, args.output_dir).to(args.device)
        baseline = evaluate_protocol(start, processor, protocol, output_dir=None, plot=False, **options)
        results["baseline"] = {"model": str(model_path), "metrics": baseline["metrics"]}
        if is_main:
            from ..evaluation.results import write_results

            write_results(results, args.output_dir)
    if is_main:
        write_model_card(args.output_dir, method=args.method, base_model=str(model_path), results=results,
                         training_args=args, repo_id=args.hub_model_id)
        print(format_results_table(results))
    return results


def main(argv: list[str] | None = None) -> int:
    """Entry point of `recipes/train.py` and `hfvideoclip train`. Bad input: one line on stderr, exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        run(parse_args(argv))
    except (ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"error: {error}\n")  # one write: the line of each process stays whole under a launcher
        sys.stderr.flush()
        return 2
    return 0


__all__ = ["RecipeArguments", "ScriptArguments", "build_parser", "comparable_splits", "main", "parse_args",
           "resolve_checkpoint", "run"]
