"""The console command's habits (`--version`, `env`, a top-level `--help` without torch, dash aliases for
`predict`) and the packaging rules: no torch upper bound in the metadata (the CPU-wheel pin is constraints.txt),
`evaluate` an extra, and the lowest-versions CI run pinning every declared minimum."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_top_level_help_and_version_do_not_import_torch():
    code = ("import sys, hfvideoclip_cli\n"
            "hfvideoclip_cli.build_parser()\n"
            "for argv in (['--help'], ['--version']):\n"
            "    try:\n"
            "        hfvideoclip_cli.main(argv)\n"
            "    except SystemExit as stop:\n"
            "        assert stop.code == 0, stop.code\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules, 'hfvideoclip' in sys.modules)\n")
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert "predict" in done.stdout and "env" in done.stdout  # the commands are listed
    assert done.stdout.strip().splitlines()[-1] == "False False False"


def test_version_and_console_script():
    import hfvideoclip
    import hfvideoclip_cli

    assert hfvideoclip_cli.version() == hfvideoclip.__version__
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^hfvideoclip = "hfvideoclip_cli:main"$', text, re.M)
    done = subprocess.run([sys.executable, "-m", "hfvideoclip_cli", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.stdout.strip() == f"hfvideoclip {hfvideoclip.__version__}"
    from hfvideoclip.cli import main as cli_main

    with pytest.raises(SystemExit) as stop:
        cli_main(["--version"])
    assert stop.value.code == 0


def test_env_lists_the_versions_for_a_bug_report(capsys):
    import torch

    from hfvideoclip.cli import main as cli_main

    assert cli_main(["env"]) == 0
    out = capsys.readouterr().out
    for name in ("hfvideoclip", "Python", "platform", "transformers", "accelerate", "datasets", "peft",
                 "huggingface_hub", "av", "evaluate"):
        assert re.search(rf"^- {name}: \S", out, re.M), name
    assert f"- torch: {torch.__version__} (" in out
    import hfvideoclip_cli

    assert hfvideoclip_cli.main(["env", "extra"]) == 2


def test_unknown_command_is_one_line(capsys):
    import hfvideoclip_cli

    with pytest.raises(SystemExit) as stop:
        hfvideoclip_cli.main(["bogus"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'bogus'" in err


def test_predict_and_convert_take_dash_aliases():
    from hfvideoclip.cli import build_parser

    args = build_parser().parse_args(["predict", "v.mp4", "--model", "m", "--labels", "a,b", "--top-k", "2",
                                      "--num-clips", "3", "--num-crops", "3", "--batch-size", "4",
                                      "--num-workers", "0"])
    assert (args.top_k, args.num_clips, args.num_crops, args.batch_size, args.num_workers) == (2, 3, 3, 4, 0)
    assert build_parser().parse_args(["predict", "v.mp4", "--model", "m", "--labels", "a", "--top_k", "1"]).top_k == 1
    args = build_parser().parse_args(["convert", "clip", "c", "out", "--temporal-mode", "vclip", "--num-frames", "4"])
    assert (args.temporal_mode, args.num_frames) == ("vclip", 4)


# ------------------------------------------------------------------------------------------------- packaging
def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def _declared() -> tuple[list[str], dict[str, list[str]]]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]


def test_metadata_has_no_torch_cap_and_evaluate_is_an_extra():
    dependencies, extras = _declared()
    torch_spec = next(dep for dep in dependencies if re.match(r"torch\b", dep))
    assert "<" not in torch_spec, "the CPU-wheel pin belongs in constraints.txt, not in the package metadata"
    assert not any(dep.startswith("evaluate") for dep in dependencies)
    assert any(dep.startswith("evaluate") for dep in extras["evaluate"])
    assert any(dep.startswith("evaluate") for dep in extras["dev"])  # its tests run in CI


def test_lowest_constraints_pin_every_declared_minimum():
    dependencies, extras = _declared()
    lowest = _pins(ROOT / ".ci" / "lowest-constraints.txt")
    for dep in dependencies + extras["evaluate"]:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)", dep)
        if match and match.group(1).lower() not in ("safetensors", "jinja2"):
            name, minimum = match.group(1).lower(), match.group(2)
            assert name in lowest, f"{name} is not pinned in .ci/lowest-constraints.txt"
            assert lowest[name] in (minimum, minimum + ".0", minimum + ".0.0"), (name, lowest[name], minimum)
    # The CPU-wheel pin does not contradict the lowest run (which does not read constraints.txt).
    assert _pins(ROOT / "constraints.txt")["torch"] == lowest["torch"]


def test_readme_commands_use_the_constraints_file_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Two commands"):readme.index("## Use")]
    commands = re.findall(r"```bash\n(.*?)\n```", section, re.S)
    assert len(commands) == 2
    assert all('pip install -c constraints.txt -e ".[dev]"' in command for command in commands)
    assert commands[0].startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].replace("pip install ", "pip install -q ", 1) in ci
    assert "pip install -q -c .ci/lowest-constraints.txt -e \".[dev]\"" in ci


def test_the_metric_without_evaluate_names_the_extra(monkeypatch):
    from hfvideoclip.evaluation import load_open_vocab_metric

    monkeypatch.setitem(sys.modules, "evaluate", None)
    with pytest.raises(ImportError, match=r'pip install "hfvideoclip\[evaluate\]"'):
        load_open_vocab_metric()
