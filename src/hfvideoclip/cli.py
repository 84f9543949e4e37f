"""`hfvideoclip` command line: predict | evaluate | train | convert | push | explain | data check | data list | env.

The console command enters through `hfvideoclip_cli` (outside this package, so that `--help`, `--version` and `env`
do not import torch); every other command runs here."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _expand_videos(inputs: list[str]) -> list[str]:
    """Files as given; a folder contributes its video files (at any depth, sorted). Files of a folder left out
    for their extension are counted in one line on stderr."""
    from .data.own_data import scan_video_files, skipped_files_line

    videos = []
    for item in inputs:
        if os.path.isdir(item):
            found, others = scan_video_files(item)
            videos.extend(str(path) for path in found)
            if others:
                print(skipped_files_line(others, item, "pass such files by name to classify them."),
                      file=sys.stderr)
        else:
            videos.append(item)
    return videos


_DTYPES = {"auto": "auto", "float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def _check_device(device: str) -> None:
    """A `--device` this torch build cannot use is one line, not a traceback from deep inside torch."""
    import torch

    kind = str(device).split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        build = "has no CUDA" if torch.version.cuda is None else "sees no GPU"
        raise ValueError(f"--device {device}: this torch ({torch.__version__}) {build}; use --device cpu, or a CUDA "
                         "build of torch on a machine with a GPU.")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available here; use --device cpu.")


def _predict(args: argparse.Namespace) -> int:
    """Classify every video; a video that cannot be decoded is listed with its cause and the others still get
    their results. Exit code 0 when every video was classified, 1 when some were not.

    Videos are decoded in `--num_workers` DataLoader workers (default: the cores this process may use) through the
    pipeline's own batching; a chunk holding a bad file is redone one video at a time to name it."""
    import torch
    from transformers import pipeline

    import hfvideoclip  # noqa: F401  (registers the pipeline task)

    from .data.workers import resolve_num_workers
    from .errors import VideoDecodingError

    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    templates = args.template or None
    videos = _expand_videos(list(args.videos))
    if not videos:
        print("error: no video files found in the given paths", file=sys.stderr)
        return 2
    num_workers = resolve_num_workers(args.num_workers, len(videos))
    dtype = args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)
    _check_device(args.device)
    path_like = args.model.startswith(("/", ".", "~")) or args.model.count("/") > 1 or "\\" in args.model
    if (path_like or os.path.exists(args.model)) and not os.path.isdir(args.model):  # a Hub id is "org/name"
        raise ValueError(f"--model {args.model}: no such model folder; pass a folder written by `hfvideoclip "
                         "train` / save_pretrained, or a Hub id such as org/name.")
    try:
        clf = pipeline("zero-shot-video-classification", model=args.model, device=args.device, dtype=dtype)
    except OSError as error:  # Hub id not found, offline without a cached copy, unreadable files
        raise ValueError(f"--model {args.model} could not be loaded: {str(error).strip().splitlines()[0]}") from None
    options = dict(candidate_labels=labels, hypothesis_template=templates, num_clips=args.num_clips,
                   num_crops=args.num_crops, batch_size=args.batch_size, top_k=args.top_k)
    results: dict[str, list] = {}
    failed: dict[str, str] = {}
    # Chunks of several batches per worker keep the workers busy; one bad file costs only its chunk a redo.
    chunk_size = args.batch_size * max(num_workers, 1) * 4
    for start in range(0, len(videos), chunk_size):
        chunk = videos[start:start + chunk_size]
        try:
            results.update(zip(chunk, clf(chunk, num_workers=num_workers, **options)))
        except VideoDecodingError:  # raised in a worker too: the DataLoader re-raises it as its own type
            for video in chunk:  # find the bad ones; keep the good ones' results
                try:
                    results[video] = clf([video], num_workers=0, **options)[0]
                except VideoDecodingError as error:
                    failed[video] = str(error).splitlines()[0]
    if args.output == "json":
        print(json.dumps({"results": {v: results[v] for v in videos if v in results}, "failed": failed}, indent=2))
    else:
        width = max(len(label) for label in labels)
        for video in videos:
            if video in results:
                print(video)
                for rank, item in enumerate(results[video], 1):
                    print(f"  {rank:>2}. {item['label']:<{width}}  {item['score']:.4f}")
        if failed:
            print(f"\n{len(failed)} of {len(videos)} videos could not be decoded:", file=sys.stderr)
            for video, cause in failed.items():
                print(f"  {video}: {cause}", file=sys.stderr)
    return 1 if failed else 0


def _convert(args: argparse.Namespace) -> int:
    if args.hidden_act and args.source != "openai":
        raise ValueError(f"--hidden_act applies to `convert openai` only: the activation of {args.source} is fixed "
                         "by its source (QuickGELU in the official code of open_vclip, froster, vificlip, ost and "
                         "viclip; the config.json of a clip folder); drop the flag.")
    if args.source in ("open_vclip", "froster", "vificlip", "ost", "openai"):
        from .convert import checkpoints as cc

        kwargs = {"output_dir": args.output_dir, "tokenizer": args.tokenizer or "openai/clip-vit-base-patch16"}
        if args.temporal_mode:
            kwargs["temporal_mode"] = args.temporal_mode
        if args.num_frames:
            kwargs["num_frames"] = args.num_frames
        if args.source in ("open_vclip", "froster"):
            model = cc.convert_pyslowfast_checkpoint(args.checkpoint, **kwargs)
        elif args.source in ("vificlip", "ost"):
            model = cc.convert_vificlip_checkpoint(
                args.checkpoint, base_clip=args.base_clip,
                scoring_head="optimal_descriptor" if args.source == "ost" else "cosine", **kwargs)
        else:
            model = cc.convert_openai_clip_checkpoint(args.checkpoint, hidden_act=args.hidden_act, **kwargs)
        print(f"saved {type(model).__name__} ({model.config.temporal_mode}, "
              f"{model.config.text_config.hidden_act}) to {args.output_dir}")
        return 0
    if args.source == "viclip":  # saves the processor too, its tokenizer cut at the text tower's 32 positions
        from .convert.viclip import convert_viclip_checkpoint

        model = convert_viclip_checkpoint(args.checkpoint, output_dir=args.output_dir, tokenizer=args.tokenizer)
        print(f"saved {type(model).__name__} ({model.config.temporal_mode}) to {args.output_dir}")
        return 0
    from .models.video_clip import VideoClipModel
    from .models.video_clip.processing_video_clip import VideoClipProcessor, VideoClipVideoProcessor

    model = VideoClipModel.from_clip(args.checkpoint, temporal_mode=args.temporal_mode or "mean",
                                     num_frames=args.num_frames or 8)
    model.save_pretrained(args.output_dir)
    processor = VideoClipProcessor.from_pretrained(args.tokenizer or args.checkpoint,
                                                   num_frames=model.config.num_frames)
    processor.tokenizer.model_max_length = min(processor.tokenizer.model_max_length,
                                               model.config.text_config.max_position_embeddings)
    processor.video_processor = VideoClipVideoProcessor(
        num_frames=model.config.num_frames, size=model.config.vision_config.image_size,
        image_mean=model.config.image_mean, image_std=model.config.image_std)
    processor.save_pretrained(args.output_dir)
    print(f"saved {type(model).__name__} ({model.config.temporal_mode}) to {args.output_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation.cli import main as evaluate_main

    return evaluate_main(args.rest, prog="hfvideoclip evaluate") or 0


def _train(args: argparse.Namespace) -> int:
    from .training.recipe import main as train_main

    return train_main(args.rest) or 0


def _flag(name: str) -> tuple[str, ...]:
    """`--top_k` and its dash alias `--top-k` (as transformers' argument parser gives `train`'s flags)."""
    return (name, name.replace("_", "-")) if "_" in name else (name,)


def build_parser() -> argparse.ArgumentParser:
    from hfvideoclip_cli import COMMANDS, DESCRIPTION, version

    parser = argparse.ArgumentParser(prog="hfvideoclip", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"hfvideoclip {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help=COMMANDS["predict"])
    predict.add_argument("videos", nargs="+", help="video files or folders of videos")
    predict.add_argument("--model", required=True, help="model directory or Hub id")
    predict.add_argument("--labels", required=True, help='comma-separated labels, e.g. "archery,juggling"')
    predict.add_argument("--template", action="append", help="prompt template with {} (repeatable); "
                         "default: the 28-template ensemble")
    predict.add_argument(*_flag("--top_k"), type=int, default=5)
    predict.add_argument(*_flag("--num_clips"), type=int, default=1)
    predict.add_argument(*_flag("--num_crops"), type=int, default=1)
    predict.add_argument(*_flag("--batch_size"), type=int, default=8)
    predict.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    predict.add_argument(*_flag("--num_workers"), type=int, default=-1,
                         help="DataLoader workers decoding videos (-1: the cores this process may use, at most 8)")
    predict.add_argument("--dtype", default="auto", choices=sorted(_DTYPES),
                         help="model weights' dtype: auto (as saved), float32, bfloat16, float16 (GPU)")
    predict.add_argument("--output", default="text", choices=["text", "json"], help="text table or JSON")
    predict.set_defaults(func=_predict)

    convert = commands.add_parser("convert", help=COMMANDS["convert"])
    convert.add_argument("source", choices=["clip", "viclip", "open_vclip", "froster", "vificlip", "ost", "openai"])
    convert.add_argument("checkpoint", help="CLIP directory / Hub id (clip), or the original checkpoint file")
    convert.add_argument("output_dir")
    convert.add_argument(*_flag("--temporal_mode"), default=None, choices=["mean", "vclip", "viclip"],
                         help="default: vclip for open_vclip/froster, viclip for viclip, mean otherwise")
    convert.add_argument(*_flag("--num_frames"), type=int, default=None, help="default: 8; 32 for vificlip/ost")
    convert.add_argument("--tokenizer", help="directory or Hub id whose CLIP tokenizer to save alongside "
                         "(checkpoint files: default openai/clip-vit-base-patch16)")
    convert.add_argument(*_flag("--base_clip"), default="openai/clip-vit-base-patch16",
                         help="vificlip: the CLIP it was fine-tuned from (its token embedding is not in the file)")
    convert.add_argument(*_flag("--hidden_act"), default=None, choices=["quick_gelu", "gelu"],
                         help="openai: the MLP activation, needed when the file does not tell it (quick_gelu for "
                         "OpenAI's original weights, gelu for open_clip models trained without QuickGELU); fixed "
                         "by the source for the others")
    convert.set_defaults(func=_convert)

    evaluate = commands.add_parser("evaluate", help=COMMANDS["evaluate"], add_help=False)
    evaluate.add_argument("rest", nargs=argparse.REMAINDER)
    evaluate.set_defaults(func=_evaluate)
    train = commands.add_parser("train", help=COMMANDS["train"], add_help=False)
    train.add_argument("rest", nargs=argparse.REMAINDER)
    train.set_defaults(func=_train)
    explain = commands.add_parser("explain", help=COMMANDS["explain"], add_help=False)
    explain.add_argument("rest", nargs=argparse.REMAINDER)
    from .hub.push import add_push_parser

    add_push_parser(commands)  # hfvideoclip push RUN_DIR --repo org/name [--dry-run] [--staging-dir S] ...
    data = commands.add_parser("data", help=COMMANDS["data"])
    data.add_argument("action", choices=["check", "list"])
    data.add_argument("rest", nargs=argparse.REMAINDER)
    commands.add_parser("env", help=COMMANDS["env"])
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("evaluate", "train"):  # their flags belong to the recipe's own parser
        args = argparse.Namespace(func=_evaluate if argv[0] == "evaluate" else _train, rest=argv[1:])
    elif argv[:1] == ["explain"]:
        from .evaluation.explain import main as explain_main

        try:
            return explain_main(argv[1:])
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    elif argv[:2] == ["data", "list"]:
        from .data import describe_protocols

        for name, needs in describe_protocols():
            print(f"{name:<14} {needs}")
        return 0
    elif argv[:2] == ["data", "check"]:
        from .data.check import main as check_main

        return check_main(argv[2:])
    elif argv == ["env"]:
        from hfvideoclip_cli import print_env

        return print_env()
    else:
        from .argparse_errors import one_line_errors

        args = one_line_errors(build_parser()).parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
