"""The `hfvideoclip` command's entry point, kept outside the `hfvideoclip` package.

Importing `hfvideoclip` loads torch and transformers (it registers the Auto classes and the pipeline task: several
seconds), which `hfvideoclip --help`, `hfvideoclip --version` and `hfvideoclip env` do not need: this module
answers them with the standard library alone and hands every other command to `hfvideoclip.cli.main`.
"""

from __future__ import annotations

import argparse
import platform
import sys

DESCRIPTION = "`hfvideoclip` command line: predict | evaluate | train | convert | push | explain | data | env."

# The sub-commands as the top-level --help lists them; `hfvideoclip.cli` gives the same help strings.
COMMANDS = {
    "predict": "zero-shot classification of video files",
    "convert": "convert a CLIP, ViCLIP, Open-VCLIP, FROSTER, ViFi-CLIP, OST or OpenAI CLIP checkpoint into a model "
               "+ processor folder",
    "evaluate": "same flags as recipes/evaluate.py",
    "train": "same flags as recipes/train.py",
    "explain": "VIDEO --model M --labels a,b: a PNG of the frames with where the predicted label is (patch-text "
               "similarity)",
    "push": "upload an exported run to the Hugging Face Hub",
    "data": "data check DIR_OR_LIST: missing, undecodable and too-short videos; data list: the registered protocols "
            "and what each needs on disk",
    "env": "print the versions of hfvideoclip, Python, torch and the Hugging Face libraries (for bug reports)",
}

# What `hfvideoclip env` reports, after hfvideoclip, Python, the platform and torch; evaluate is an extra.
ENV_PACKAGES = ("transformers", "accelerate", "datasets", "peft", "huggingface_hub", "av", "evaluate")


def package_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def version() -> str:
    return package_version("hfvideoclip") or "unknown (not installed: pip install -e .)"


def _torch_line() -> str:
    if package_version("torch") is None:
        return "not installed"
    try:
        import torch
    except Exception as error:  # a broken install is worth reporting too
        return f"{package_version('torch')} (import fails: {type(error).__name__}: {error})"
    cuda = torch.version.cuda
    if cuda is None:
        return f"{torch.__version__} (CPU build, no CUDA)"
    if not torch.cuda.is_available():
        return f"{torch.__version__} (CUDA {cuda}, no GPU visible)"
    count = torch.cuda.device_count()
    return f"{torch.__version__} (CUDA {cuda}, {count} GPU{'s' if count > 1 else ''}: {torch.cuda.get_device_name(0)})"


def env_report() -> dict[str, str]:
    """The versions a bug report needs, as `transformers env` gives them (torch is imported for its CUDA line)."""
    report = {"hfvideoclip": version(), "Python": platform.python_version(), "platform": platform.platform(),
              "torch": _torch_line()}
    for name in ENV_PACKAGES:
        found = package_version(name)
        report[name] = found if found is not None else (
            'not installed (pip install "hfvideoclip[evaluate]")' if name == "evaluate" else "not installed")
    return report


def print_env() -> int:
    print("Copy-and-paste the text below in your bug report.\n")
    for name, value in env_report().items():
        print(f"- {name}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: `--help`, `--version` and the command names (no torch import). A command's own flags
    are parsed by `hfvideoclip.cli`."""
    parser = argparse.ArgumentParser(prog="hfvideoclip", description=DESCRIPTION)
    parser.error = lambda message: parser.exit(2, f"hfvideoclip: error: {message} (see hfvideoclip --help)\n")
    parser.add_argument("--version", action="version", version=f"hfvideoclip {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, text in COMMANDS.items():
        command = commands.add_parser(name, help=text, add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS and argv[0] != "env":
        from hfvideoclip.cli import main as run_command

        return run_command(argv)
    args = build_parser().parse_args(argv)  # exits for --help, --version and a missing / unknown command
    if args.rest:
        print(f"hfvideoclip env: error: unrecognized arguments: {' '.join(args.rest)} (see hfvideoclip --help)",
              file=sys.stderr)
        return 2
    return print_env()

