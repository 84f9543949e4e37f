"""Reading, writing and formatting `results.json`, the public results format:

```json
{"protocol": "toy-b2n", "model": "path/or/id",
 "metrics": {"base_top1": 0.41, "novel_top1": 0.73, "hm": 0.52, ..., "hm_std": 0.0},
 "per_split": [{"split": "split0", "metrics": {"base_top1": 0.41, ...}}]}
```
Metric values are fractions in [0, 1]; the markdown table shows them in %.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path

RESULTS_FILE = "results.json"
TABLE_FILE = "results.md"

_COLUMN_ORDER = ("base_top1", "novel_top1", "hm", "top1", "top5", "base_top5", "novel_top5")


def validate_results(results, source: str = "results") -> dict:
    """Check the results.json structure; raise ValueError naming `source` and the first missing/invalid field."""

    def fail(field: str, problem: str) -> None:
        raise ValueError(f"{source}: {problem} field {field!r}. A results file looks like "
                         '{"protocol": str, "model": str, "metrics": {name: number}, '
                         '"per_split": [{"split": str, "metrics": {name: number}}]}.')

    def check_metrics(metrics, field: str) -> None:
        if not isinstance(metrics, Mapping):
            fail(field, "expected an object of metric values in")
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                fail(f"{field}.{name}", f"expected a number, got {type(value).__name__}, in")

    if not isinstance(results, Mapping):
        raise ValueError(f"{source}: expected a JSON object at the top level, got {type(results).__name__}.")
    for key, kind in (("protocol", str), ("model", str), ("metrics", Mapping), ("per_split", list)):
        if key not in results:
            fail(key, "missing")
        if not isinstance(results[key], kind):
            fail(key, f"wrong type ({type(results[key]).__name__}, expected {getattr(kind, '__name__', kind)}) for")
    check_metrics(results["metrics"], "metrics")
    for index, entry in enumerate(results["per_split"]):
        where = f"per_split[{index}]"
        if not isinstance(entry, Mapping):
            fail(where, "expected an object {'split': ..., 'metrics': ...} in")
        if "split" not in entry:
            fail(f"{where}.split", "missing")
        if not isinstance(entry["split"], str):
            fail(f"{where}.split", "expected a string in")
        if "metrics" not in entry:
            fail(f"{where}.metrics", "missing")
        check_metrics(entry["metrics"], f"{where}.metrics")
    return dict(results)


def load_results(path: str | Path) -> dict:
    """Read and validate a results.json (or the results.json inside a directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No results file at {path}: run `python recipes/evaluate.py --output_dir DIR` to "
                                "write DIR/results.json.")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from error
    return validate_results(data, source=str(path))


def _ordered_columns(results: Mapping) -> list[str]:
    names: list[str] = []
    for entry in results["per_split"]:
        names.extend(name for name in entry["metrics"] if name not in names)
    names.extend(name for name in results["metrics"]
                 if name not in names and not (name.endswith("_std") and name[:-4] in results["metrics"]))
    first = [name for name in _COLUMN_ORDER if name in names]
    return first + [name for name in names if name not in first]


_LEGEND = {
    "base_top1": "top-1 accuracy on the base classes (the training vocabulary)",
    "novel_top1": "top-1 accuracy on the novel classes (never seen in training)",
    "hm": "harmonic mean of the two top-1 accuracies (base and novel, or in- and out-of-context)",
    "top1": "top-1 accuracy: the highest-scoring class is the true one",
    "top5": "top-5 accuracy: the true class is among the five highest-scoring",
    "top1_in": "top-1 accuracy on in-context videos", "top1_out": "top-1 accuracy on out-of-context videos",
    "pair_vs_partner": "how often a direction-pair video scores its class above the reversed partner class (0.5 = "
                       "blind to frame order)",
}


def _legend_line(name: str) -> str | None:
    if name in _LEGEND:
        return _LEGEND[name]
    for prefix in ("base_", "novel_"):
        if name.startswith(prefix) and name[len(prefix):] in _LEGEND:
            return f"{_LEGEND[name[len(prefix):]]}, {prefix[:-1]} classes"
    if name.startswith("top1_"):
        return f"top-1 accuracy on the videos whose group is `{name[5:]}`"
    if name.endswith("_top1"):
        return f"how often the top-1 class has the true class's `{name[:-5]}`"
    return None


def _hidden_top5(results: Mapping) -> set[str]:
    """`<prefix>top5` columns of vocabularies of 5 classes or fewer in every split: always 100 %, so left out."""
    counts: dict[str, list[int]] = {}
    for entry in results["per_split"]:
        for prefix, count in (entry.get("num_classes") or {}).items():
            counts.setdefault(prefix, []).append(int(count))
    return {f"{prefix}_top5" if prefix else "top5" for prefix, values in counts.items() if max(values) <= 5}


def _percent(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _table_columns(results: Mapping) -> list[str]:
    hidden = _hidden_top5(results)
    return [name for name in _ordered_columns(results) if name not in hidden]


def format_results_table(results: Mapping) -> str:
    """Markdown table: one row per split, then a ``mean ± std`` row over several splits, then the starting
    model's zero-shot row when `results["baseline"]` holds one (accuracies in %). Top-5 columns of vocabularies of
    five classes or fewer are left out."""
    results = validate_results(results)
    columns = _table_columns(results)
    lines = ["| split | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for entry in results["per_split"]:
        values = [_percent(entry["metrics"].get(name)) for name in columns]
        lines.append(f"| {entry['split']} | " + " | ".join(values) + " |")
    if len(results["per_split"]) > 1:
        cells = []
        for name in columns:
            mean = results["metrics"].get(name)
            std = results["metrics"].get(f"{name}_std")
            cells.append(_percent(mean) if std is None or mean is None else f"{_percent(mean)} ± {_percent(std)}")
        lines.append("| mean ± std | " + " | ".join(cells) + " |")
    baseline = results.get("baseline")
    if isinstance(baseline, Mapping) and isinstance(baseline.get("metrics"), Mapping):
        values = [_percent(baseline["metrics"].get(name)) for name in columns]
        lines.append("| zero-shot, starting model | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def format_results_markdown(results: Mapping) -> str:
    """The content of results.md: a title naming the protocol and the model, the table, a legend of its columns."""
    results = validate_results(results)
    splits = len(results["per_split"])
    std = "; std is the sample std over splits" if splits > 1 else ""
    baseline = results.get("baseline")
    start = (f"\n\nThe last row scores the starting model `{baseline.get('model')}` zero-shot on the same videos."
             if isinstance(baseline, Mapping) and "metrics" in baseline else "")
    legend = [f"- `{name}`: {text}" for name in _table_columns(results) if (text := _legend_line(name))]
    return (f"# {results['protocol']}\n\nModel: `{results['model']}`\n\n"
            f"Accuracy in % ({splits} split{'s' if splits != 1 else ''}{std}).{start}\n\n"
            + format_results_table(results) + ("\n" + "\n".join(legend) + "\n" if legend else ""))


def write_results(results: Mapping, output_dir: str | Path) -> Path:
    """Write ``results.json`` and ``results.md`` into `output_dir` (created if needed); returns the JSON path."""
    results = validate_results(results)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / RESULTS_FILE
    path.write_text(json.dumps(results, indent=2) + "\n")
    (output_dir / TABLE_FILE).write_text(format_results_markdown(results))
    return path


__all__ = ["RESULTS_FILE", "TABLE_FILE", "format_results_markdown", "format_results_table", "load_results",
           "validate_results", "write_results"]
