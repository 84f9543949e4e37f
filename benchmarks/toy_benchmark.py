"""The toy benchmark table: every method's preset on a toy protocol, over its splits and several seeds.

    python benchmarks/toy_benchmark.py [--protocol toy-b2n] [--methods zero-shot,ce,open_vclip,froster,taco,open_mede]
        (a method may name a backbone and a learner: ce@viclip, taco+st_adapter)
        [--splits 0,1,2] [--seeds 42,43] [--model DIR] [--output_dir /tmp/toy-benchmark] [--plot PNG]
        [-- extra train flags]

Each (method, split, seed) is one `hfvideoclip train` run in its own process (its results.json is kept, and a
finished run is not redone, so an interrupted table resumes); `zero-shot` is `hfvideoclip evaluate` of the
starting model. Prints mean +- std over all runs of a method (splits x seeds) of base / novel top-1 and HM for
base-to-novel protocols, top-1 otherwise, plus the direction-free / direction-pair top-1 and `pair_vs_partner`
(a direction-pair video against its reverse class; only splits whose vocabulary holds both, the run count in
brackets) where the protocol reports them, and writes the table to `<output_dir>/table.md`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

COLUMNS_B2N = ("base_top1", "novel_top1", "hm", "base_top1_direction_free", "base_top1_direction_pair",
               "novel_top1_direction_free", "novel_top1_direction_pair", "base_pair_vs_partner",
               "novel_pair_vs_partner")
COLUMNS_OTHER = ("top1", "top1_direction_free", "top1_direction_pair", "pair_vs_partner")


def run(command: list[str], log: Path) -> None:
    with open(log, "w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}; see {log}")


def one(method: str, split: int, seed: int, args, extra: list[str]) -> dict:
    """The metrics of one run's split (results.json `per_split` entry of the trained split)."""
    directory = Path(args.output_dir) / args.protocol / method / f"split{split}-seed{seed}"
    results = directory / "results.json"
    if not results.exists():
        directory.mkdir(parents=True, exist_ok=True)
        model = ["--model", args.model] if args.model else []
        if method == "zero-shot":
            command = [sys.executable, "-m", "hfvideoclip.cli", "evaluate", "--protocol", args.protocol,
                       "--output_dir", str(directory), *model]
        else:
            spec, _, adaptation = method.partition("+")  # "taco+st_adapter": taco with another learner
            name, _, mode = spec.partition("@")  # "ce@viclip": ce on another backbone
            backbone = (["--temporal_mode", mode] if mode else []) + (["--adaptation", adaptation] if adaptation else [])
            command = [sys.executable, "-m", "hfvideoclip.cli", "train", "--method", name, *backbone, "--protocol",
                       args.protocol, "--split", str(split), "--seed", str(seed), "--output_dir", str(directory),
                       "--save_strategy", "no", *model, *extra]
        start = time.perf_counter()
        run(command, directory / "log.txt")
        print(f"  {method} split {split} seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
    data = json.loads(results.read_text())
    per_split = data["per_split"]
    if method == "zero-shot":
        return per_split[split]["metrics"]
    return per_split[0]["metrics"] if len(per_split) == 1 else per_split[split]["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", default="toy-b2n")
    parser.add_argument("--methods", default="zero-shot,ce,open_vclip,froster,taco,open_mede")
    parser.add_argument("--splits", default="0,1,2")
    parser.add_argument("--seeds", default="42,43")
    parser.add_argument("--model", default=None, help="starting model (default: the shipped toy CLIP)")
    parser.add_argument("--output_dir", default="/tmp/toy-benchmark")
    parser.add_argument("--plot", default=None, help="base-to-novel: also write the base vs novel scatter here (PNG)")
    args, extra = parser.parse_known_args()
    extra = [e for e in extra if e != "--"]
    splits = [int(s) for s in args.splits.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    table: dict[str, list[dict]] = {}
    for method in args.methods.split(","):
        runs = [one(method, split, seed, args, extra) for split in splits
                for seed in (seeds[:1] if method == "zero-shot" else seeds)]
        table[method] = runs
    every = [r for runs in table.values() for r in runs]
    columns = [c for c in (COLUMNS_B2N if "hm" in every[0] else COLUMNS_OTHER) if any(c in r for r in every)]
    lines = [f"{args.protocol}: mean +- std (top-1 %) over splits {args.splits} x seeds {args.seeds}",
             "| method | runs | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    for method, runs in table.items():
        cells = []
        for column in columns:
            values = [100 * r[column] for r in runs if column in r]  # pair_vs_partner: splits with pairs only
            if not values:
                cells.append("-")
                continue
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            count = f" ({len(values)})" if len(values) < len(runs) else ""
            cells.append(f"{statistics.mean(values):.1f} +- {spread:.1f}{count}")
        lines.append(f"| {method} | {len(runs)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    Path(args.output_dir, f"table-{args.protocol}.md").write_text(text + "\n")
    if args.plot and "hm" in every[0]:
        from hfvideoclip.evaluation.plots import plot_base_vs_novel

        points = {}
        for method, runs in table.items():
            point = {}
            for key in ("base", "novel"):
                values = [100 * r[f"{key}_top1"] for r in runs]
                point[key] = statistics.mean(values)
                point[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            points[method] = point
        title = f"{args.protocol}: mean +- std over splits {args.splits} x seeds {args.seeds}"
        print(f"plot: {plot_base_vs_novel(points, args.plot, title=title)}")


if __name__ == "__main__":
    main()
