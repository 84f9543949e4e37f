"""`python recipes/evaluate.py` / `hfvideoclip evaluate`: evaluate a model on a protocol or on your own videos.

```
python recipes/evaluate.py --model DIR_OR_ID --protocol toy-b2n --output_dir D
    [--num_clips 1 --num_crops 1 --batch_size 8 --templates kinetics|single --cache_dir ...]
    [--class_descriptions FROSTER/label_rephrase]     # FROSTER's rephrased class texts, matched by class name
python recipes/evaluate.py --model DIR_OR_ID --validation_dir my_videos --output_dir D       # one folder per class
python recipes/evaluate.py --model DIR_OR_ID --validation_file val.csv --output_dir D       # video,label rows
python recipes/evaluate.py --model DIR_OR_ID --dataset_name user/videos [--dataset_config_name C] --output_dir D
accelerate launch recipes/evaluate.py ...      # the videos are sharded over the processes
```
Writes ``D/results.json``, ``D/results.md`` and ``D/plot_<split>.png``. ``--protocol`` takes any registered
protocol (`hfvideoclip.data.available_protocols()`); ``all`` runs every toy protocol into ``D/<protocol>/``. The
own-data flags (`hfvideoclip.data.own_data`) win over ``--protocol``. Without ``--model`` the shipped tiny toy
CLIP is evaluated (zero-shot, frame mean).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..argparse_errors import one_line_errors
from ..data.own_data import SOURCE_FLAGS, add_data_arguments, resolve_data
from ..data.protocols import available_protocols, load_protocol
from ..text.templates import KINETICS_TEMPLATES, SINGLE_TEMPLATE

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {"kinetics": tuple(KINETICS_TEMPLATES), "single": tuple(SINGLE_TEMPLATE)}
ALL_PATTERN = "toy-*"
"""``--protocol all`` runs the registered protocols matching this pattern (the toy world)."""


def default_model_path() -> str:
    """The tiny toy CLIP shipped with the package."""
    from ..toy import toy_clip_path

    return str(toy_clip_path())


def load_model_and_processor(name_or_path: str, *, temporal_mode: str = "mean", num_frames: int | None = None,
                             device: str | None = None, vclip_edge: str = "zero"):
    """`VideoClipModel` + `VideoClipProcessor` from a saved directory or Hub id; a plain CLIP checkpoint is wrapped
    with `temporal_mode` and `vclip_edge` (see `hfvideoclip.loading.load_video_clip_model`)."""
    from ..loading import load_video_clip_model
    from ..models.video_clip.processing_video_clip import VideoClipProcessor

    model = load_video_clip_model(name_or_path, temporal_mode=temporal_mode, num_frames=num_frames,
                                  vclip_edge=vclip_edge)
    processor = VideoClipProcessor.from_pretrained(str(name_or_path), num_frames=num_frames or model.config.num_frames)
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, processor


def _multi_process_launch() -> bool:
    """Whether this process was started by `accelerate launch` / torchrun with several processes."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


PAPER_TEST_CLIPS = 3
"""Temporal views at test on the real benchmarks (3 clips x 1 centre crop, as the papers report)."""


def default_num_clips(protocol: str, own_data: bool = False) -> int:
    """3 for the real benchmarks' protocols (b2n-*, xd-*, fs*, ...), 1 for the toy world and your own data."""
    return 1 if own_data or protocol.startswith("toy-") else PAPER_TEST_CLIPS


def run_evaluation(model: str | None = None, protocol: str = "toy-b2n", output_dir: str | Path | None = None, *,
                   num_clips: int | None = None, num_crops: int = 1, batch_size: int = 8,
                   templates: str | Sequence[str] = "kinetics", cache_dir: str | None = None,
                   temporal_mode: str = "mean", vclip_edge: str = "zero", num_frames: int | None = None,
                   device: str | None = None, num_workers: int | None = None, progress: bool = True,
                   plot: bool = True, bad_video: str = "raise",
                   dataset_name: str | None = None, dataset_config_name: str | None = None,
                   validation_dir: str | None = None, validation_file: str | None = None,
                   video_column_name: str = "video", label_column_name: str = "label",
                   class_names_file: str | None = None, data_dir: str | None = None,
                   class_descriptions: str | None = None) -> dict[str, dict]:
    """Evaluate `model` (directory or Hub id; default: the toy CLIP) on `protocol` (a registered name or "all"), or
    on own data when `dataset_name`, `validation_dir` or `validation_file` is given.

    Returns ``{protocol_name: results}`` (results in the results.json format). With `output_dir`, a single
    protocol (or own data) writes into `output_dir` itself, "all" into ``output_dir/<protocol>``. Under a
    multi-process launch every process scores a shard; the main process writes the files. `class_descriptions`:
    FROSTER-format rephrased class descriptions (file, folder or comma-separated paths) for the class texts.
    """
    from .harness import evaluate_protocol

    if class_descriptions is not None:
        from ..text.class_descriptions import read_class_descriptions

        class_descriptions = read_class_descriptions(class_descriptions)  # a bad path fails before the model loads

    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(f"Unknown template set {templates!r}: choose one of {', '.join(TEMPLATE_SETS)} or pass a "
                             "list of templates containing '{}'.")
        templates = TEMPLATE_SETS[templates]
    own_data = {"dataset_name": dataset_name, "dataset_config_name": dataset_config_name,
                "validation_dir": validation_dir, "validation_file": validation_file,
                "video_column_name": video_column_name, "label_column_name": label_column_name,
                "class_names_file": class_names_file}
    use_own_data = any(own_data.get(flag) for flag in SOURCE_FLAGS)
    if use_own_data:
        data = resolve_data(None, cache_dir=cache_dir, **own_data)  # validate the data before loading the model
        if not all(split.eval for split in data.splits):
            raise ValueError(f"{data.name}: no validation split to evaluate; give a dataset with a 'validation' or "
                             "'test' split, or use --validation_dir / --validation_file.")
        datasets_by_name = {data.name: data}
        names = [data.name]
    else:
        names = (available_protocols(ALL_PATTERN) if protocol == "all"
                 else [name.strip() for name in protocol.split(",") if name.strip()])
        for name in names:
            if name not in available_protocols():
                load_protocol(name)  # raises the error naming the registered protocols
        datasets_by_name = {}

    distributed = None
    if _multi_process_launch():
        import torch
        from accelerate import PartialState

        cpu = (os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or device == "cpu"
               or not torch.accelerator.is_available())
        state = PartialState(cpu=cpu)  # sets up the process group the harness shards over
        device = device or str(state.device)
        distributed = True
    model_name = str(model) if model is not None else default_model_path()
    video_model, processor = load_model_and_processor(model_name, temporal_mode=temporal_mode,
                                                      num_frames=num_frames, device=device, vclip_edge=vclip_edge)
    all_results = {}
    for name in names:
        data = datasets_by_name.get(name) or load_protocol(name, cache_dir=cache_dir,
                                                           **({"data_dir": data_dir} if data_dir else {}))
        target = None
        if output_dir is not None:
            target = Path(output_dir) / name if len(names) > 1 and not use_own_data else Path(output_dir)
        all_results[name] = evaluate_protocol(
            video_model, processor, data, output_dir=target, model_name=model_name, templates=templates,
            num_clips=num_clips if num_clips is not None else default_num_clips(name, use_own_data),
            num_crops=num_crops, batch_size=batch_size, progress=progress, plot=plot,
            num_workers=num_workers, distributed=distributed, bad_video=bad_video,
            class_descriptions=class_descriptions)
    return all_results


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The flags of `recipes/evaluate.py` / `hfvideoclip evaluate`."""
    parser.add_argument("--model", default=None,
                        help="VideoClipModel directory / Hub id, or a plain CLIP checkpoint (wrapped with "
                             "--temporal_mode); default: the shipped toy CLIP")
    parser.add_argument("--protocol", default="toy-b2n",
                        help=f"a registered protocol ({', '.join(available_protocols())}), several separated by "
                             "commas (xd-ucf101,xd-hmdb51,xd-k600), or 'all' for every toy protocol (default: "
                             "toy-b2n); ignored when own data is given")
    parser.add_argument("--data_dir", default=None,
                        help="the benchmark's videos and annotation files (b2n-*, xd-*, fs* protocols; `hfvideoclip "
                             "data list` says what each needs)")
    parser.add_argument("--output_dir", default=None, help="where to write results.json, results.md and plots")
    parser.add_argument("--num_clips", type=int, default=None,
                        help="temporal views per video, scores averaged (default: 3 on the real benchmarks' "
                             "protocols, the papers' test views; 1 on the toy protocols and your own data)")
    parser.add_argument("--num_crops", type=int, default=1, choices=[1, 3], help="spatial views per clip")
    parser.add_argument("--batch_size", type=int, default=8, help="videos per forward pass")
    parser.add_argument("--templates", default="kinetics", choices=sorted(TEMPLATE_SETS),
                        help="prompt templates: the 28 Kinetics templates or 'a video of {}.'")
    parser.add_argument("--class_descriptions", default=None,
                        help="FROSTER-format rephrased class descriptions {\"0\": \"Name: description\"}: a file, a "
                             "folder of them (FROSTER's label_rephrase/) or paths joined by commas, matched to each "
                             "vocabulary by class name; class texts become FROSTER's test prompts (each template "
                             "with the name + ' ' + description, and the bare description)")
    parser.add_argument("--cache_dir", default=None,
                        help="where toy protocol videos are generated and `datasets` / embedded videos are cached")
    parser.add_argument("--temporal_mode", default="mean", choices=["mean", "vclip", "viclip"],
                        help="backbone for plain CLIP checkpoints (ignored for VideoClip checkpoints)")
    parser.add_argument("--vclip_edge", default="zero", choices=["zero", "mask"],
                        help="vclip backbone from plain CLIP: zero keys at the clip edges (official) or masked")
    parser.add_argument("--num_frames", type=int, default=None, help="frames per clip (default: the model's)")
    parser.add_argument("--device", default=None, help="e.g. cpu or cuda (default: where the model loads)")
    parser.add_argument("--num_workers", type=int, default=-1,
                        help="DataLoader workers decoding videos (-1, the default: the cores this process may use, "
                             "at most 8; 0: decode in this process)")
    parser.add_argument("--no_plot", action="store_true", help="skip the PNG figures")
    parser.add_argument("--bad_video", default="raise", choices=["raise", "skip"],
                        help="a video that cannot be decoded: stop with its path (raise) or leave it out, log it and "
                             "count it in results.json (skip)")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    add_data_arguments(parser, train=False)
    return parser


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Evaluate a video-text model on an open-vocabulary "
                                     "protocol and write results.json / results.md / plots.")
    return one_line_errors(add_evaluation_arguments(parser))


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse `argv`, run the evaluation, print one table per protocol. Returns the exit code (2 on bad input,
    with the error on stderr)."""
    from .results import format_results_markdown

    argv = list(argv) if argv is not None else sys.argv[1:]
    if argv[:1] == ["--"]:  # `hfvideoclip evaluate -- --model ...` forwards the separator
        argv = argv[1:]
    args = build_parser(prog).parse_args(argv)
    try:
        all_results = run_evaluation(
            args.model, args.protocol, args.output_dir, num_clips=args.num_clips, num_crops=args.num_crops,
            batch_size=args.batch_size, templates=args.templates, cache_dir=args.cache_dir,
            temporal_mode=args.temporal_mode, vclip_edge=args.vclip_edge, num_frames=args.num_frames,
            device=args.device,
            num_workers=args.num_workers, progress=not args.no_progress, plot=not args.no_plot,
            bad_video=args.bad_video, dataset_name=args.dataset_name, dataset_config_name=args.dataset_config_name,
            validation_dir=args.validation_dir, validation_file=args.validation_file,
            video_column_name=args.video_column_name, label_column_name=args.label_column_name,
            data_dir=args.data_dir, class_descriptions=args.class_descriptions,
            class_names_file=args.class_names_file)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if _multi_process_launch():
        from accelerate import PartialState

        if not PartialState().is_main_process:
            return 0
    several = ((args.protocol == "all" or "," in args.protocol)
               and not any(getattr(args, flag, None) for flag in SOURCE_FLAGS))
    for name, results in all_results.items():
        print(format_results_markdown(results))
        if args.output_dir is not None:
            where = Path(args.output_dir) / name if several else Path(args.output_dir)
            print(f"wrote {where / 'results.json'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
