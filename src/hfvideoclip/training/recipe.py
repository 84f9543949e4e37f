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
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..adapters import available_adaptations
from ..data.own_data import VideoDataArguments, resolve_data
from ..methods import MethodConfig, available_methods, get_method
from ..models.loading import checkpoint_model_type
from .arguments import VideoClipTrainingArguments
from .builder import build_trainer
from .presets import available_presets, preset_directory, read_preset


@dataclass
class ScriptArguments:
    _argument_group_name = "model, protocol and final evaluation"

    model: str | None = field(default=None, metadata={
        "help": "CLIP or VideoClip checkpoint (directory or Hub id); default: the shipped toy CLIP."})
    protocol: str = field(default="toy-b2n", metadata={
        "help": "Registered protocol to train and evaluate on (hfvideoclip.data.available_protocols())."})
    split: int = field(default=0, metadata={"help": "Which split of the protocol trains (e.g. base set 0)."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where protocol videos are generated or cached."})
    data_dir: str | None = field(default=None, metadata={
        "help": "The benchmark's videos and annotation files for b2n-*, xd-*, fs* protocols (`hfvideoclip data "
                "list` says what each needs)."})
    protocol_params: str | None = field(default=None, metadata={
        "help": "JSON object of the protocol's own parameters, e.g. '{\"shots\": 16, \"motions\": [\"moving left\", "
                "\"moving right\"]}' (toy protocols: hfvideoclip.data.toy.protocols.resolve_params)."})
    config: str | None = field(default=None, metadata={
        "help": "Preset YAML replacing the method's shipped preset (flag names as keys)."})
    eval_num_clips: int | None = field(default=None, metadata={
        "help": "Temporal views at final evaluation (default: 3 on the real benchmarks' protocols, 1 on the toy "
                "world and your own data)."})
    eval_templates: str = field(default="kinetics", metadata={"help": "kinetics or single."})
    skip_final_eval: bool = field(default=False, metadata={"help": "Export only."})


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


def build_parser(method: str) -> HfArgumentParser:
    """The recipe's parser for `method`: script, own-data, Trainer and the method's own flags (own `--help` group)."""
    spec = get_method(method)
    epilog = (f"methods: {', '.join(available_methods())}; adaptations: {', '.join(available_adaptations())}; "
              f"shipped presets ({preset_directory()}): {', '.join(available_presets())}. "
              f"--method {method} uses preset {spec.preset or 'none'}.")
    return HfArgumentParser((ScriptArguments, VideoDataArguments, VideoClipTrainingArguments, spec.config_class),
                            prog="hfvideoclip train", epilog=epilog,
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def parse_args(argv: list[str]) -> RecipeArguments:
    """Resolve the command line: the method's preset (or `--config`), then the flags on top."""
    argv = _with_resume_value(list(argv))
    config_path = _flag_value(argv, "config")
    method = _flag_value(argv, "method")
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
    if "output_dir" not in given:
        argv = [*argv, "--output_dir", f"runs/{method}"]
    script, data, training, method_config = parser.parse_args_into_dataclasses(args=argv)
    method_config.validate(training)
    sources = {name: "preset" for name in preset}
    sources.update({name: "command line" for name in given if name in known})
    return RecipeArguments(script, data, training, method_config, preset_path, sources)


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
    from ..data.toy import toy_clip_path

    script, data, args = parsed.script, parsed.data, parsed.training
    set_seed(args.seed)
    model_path = script.model or toy_clip_path()
    checkpoint_model_type(model_path)  # a wrong --model fails here, before any data is generated
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
    resume = resolve_checkpoint(args)
    trainer = build_trainer(args, model_path, split.train, dict(split.eval) or None, method_config=parsed.method)
    if args.should_save:
        os.makedirs(args.output_dir, exist_ok=True)
        with open(os.path.join(args.output_dir, "train_args.json"), "w") as handle:
            json.dump(parsed.to_json(), handle, indent=2, default=str)
    train_output = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(args.output_dir)
    trainer.save_state()

    trainer.accelerator.wait_for_everyone()  # the export is on disk before any process reloads it

    skipped_training = int(trainer.accelerator.reduce(torch.tensor(trainer.skipped_videos, device=args.device),
                                                       reduction="sum")) if args.bad_video == "skip" else 0
    results = {"train": train_output.metrics}
    evaluated = not script.skip_final_eval and any(s.eval for s in protocol.splits)
    if evaluated:  # every process scores its shard; the main one writes the files
        results = evaluate_export(script, args, comparable_splits(protocol, script.split), model_path,
                                  is_main=trainer.is_world_process_zero())
    if args.bad_video == "skip":
        results["skipped_training_videos"] = skipped_training  # batches where a repeat stood in for a bad video
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
            print(f"results:   {os.path.join(args.output_dir, 'results.json')}, results.md, plot_*.png, README.md")
    return results


def evaluate_export(script: ScriptArguments, args: VideoClipTrainingArguments, protocol, model_path: str,
                    is_main: bool = True) -> dict:
    """Score the exported model in `--output_dir` on `protocol`; the main process writes results, plots and card."""
    from ..evaluation.cli import default_num_clips
    from ..evaluation.harness import evaluate_protocol
    from ..evaluation.results import format_results_table
    from ..hub.model_card import write_model_card
    from ..models.loading import load_video_clip_model
    from ..models.video_clip.processing_video_clip import VideoClipProcessor
    from ..text.templates import KINETICS_TEMPLATES, SINGLE_TEMPLATE

    model = load_video_clip_model(args.output_dir).eval()
    processor = VideoClipProcessor.from_pretrained(args.output_dir)
    templates = KINETICS_TEMPLATES if script.eval_templates == "kinetics" else SINGLE_TEMPLATE
    num_clips = script.eval_num_clips
    if num_clips is None:  # own data is named after its files, not after --protocol
        num_clips = default_num_clips(protocol.name, own_data=protocol.name != script.protocol)
    results = evaluate_protocol(model, processor, protocol, output_dir=args.output_dir,
                                model_name=f"{args.method}:{os.path.basename(str(model_path))}",
                                templates=templates, num_clips=num_clips,
                                batch_size=args.per_device_eval_batch_size, progress=not args.disable_tqdm,
                                bad_video=args.bad_video, num_workers=args.dataloader_num_workers)
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
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


__all__ = ["RecipeArguments", "ScriptArguments", "build_parser", "comparable_splits", "main", "parse_args",
           "resolve_checkpoint", "run"]
