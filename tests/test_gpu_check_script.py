"""benchmarks/gpu/check.sh, the one-shot GPU measurement, stays runnable between GPU sessions: its CPU smoke mode runs
a step end to end (the toy main job), writes the log and copies the run's results where the device returns files,
and names a step it does not know instead of failing silently."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_check_script_runs_a_step_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "DEVICE": "cpu", "PYTHON": sys.executable, "OUT": str(out), "STEPS": "toy_bf16 no_such_step",
           "TOY_DIR": str(tmp_path / "toy")}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu" / "check.sh")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = (out / "gpu_check.log").read_text()
    assert "=== toy_bf16: exit 0" in log, log[-2000:]
    assert "unknown step no_such_step" in log
    results = json.loads((out / "toy_bf16_results.json").read_text())
    metrics = results["per_split"][0]["metrics"]
    assert 0.0 <= metrics["base_top1"] <= 1.0 and 0.0 <= metrics["novel_top1"] <= 1.0
