"""The training curves of a run, drawn with Pillow: the logged loss (and each logged loss term) and the learning
rate against the optimizer step, from the Trainer's `log_history` (`trainer_state.json`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from .plots import BACKGROUND, GRID, MUTED, OTHER_COLOURS, TEXT, _font

CURVES_FILE = "training_curves.png"
_LOSS_COLOUR = (52, 110, 190)
_LR_COLOUR = (230, 130, 30)
# Logged keys that are not loss terms (the Trainer's own bookkeeping).
_NOT_TERMS = {"loss", "learning_rate", "epoch", "step", "grad_norm", "total_flos", "train_runtime",
              "train_samples_per_second", "train_steps_per_second", "train_loss"}


def curve_series(log_history: Sequence[Mapping]) -> dict[str, list[tuple[float, float]]]:
    """`{"loss": [(step, value), ...], "learning_rate": [...], <term>: [...]}` from the entries that log the
    training loss (evaluation entries are left out)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for entry in log_history:
        if "loss" not in entry or "step" not in entry:
            continue
        for name, value in entry.items():
            if name in ("step", "epoch") or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if name in _NOT_TERMS - {"loss", "learning_rate"} or name.startswith("eval_"):
                continue
            if math.isfinite(float(value)):
                series.setdefault(name, []).append((float(entry["step"]), float(value)))
    return series


def _panel(draw, box, series: Mapping[str, list[tuple[float, float]]], colours: Mapping[str, tuple], label: str,
           fonts) -> None:
    left, top, right, bottom = box
    points = [p for values in series.values() for p in values]
    steps = [s for s, _ in points]
    values = [v for _, v in points]
    low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 0.5 * (abs(low) or 1.0), high + 0.5 * (abs(high) or 1.0)
    first, last = min(steps), max(steps)
    last = last if last > first else first + 1

    def at(step: float, value: float) -> tuple[float, float]:
        return (left + (step - first) / (last - first) * (right - left),
                bottom - (value - low) / (high - low) * (bottom - top))

    for i in range(5):
        value = low + (high - low) * i / 4
        y = at(first, value)[1]
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((8, y - 7), f"{value:.3g}", fill=MUTED, font=fonts["small"])
    draw.rectangle([left, top, right, bottom], outline=MUTED)
    draw.text((left, top - 22), label, fill=TEXT, font=fonts["text"])
    draw.text((left, bottom + 6), f"{first:.0f}", fill=MUTED, font=fonts["small"])
    draw.text((right - 30, bottom + 6), f"{last:.0f}", fill=MUTED, font=fonts["small"])
    legend_x = left + draw.textlength(label, font=fonts["text"]) + 24  # beside the panel's label
    for name, values in series.items():
        colour = colours[name]
        xy = [at(s, v) for s, v in values]
        if len(xy) == 1:
            x, y = xy[0]
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        else:
            draw.line(xy, fill=colour, width=2)
        draw.text((legend_x, top - 20), name, fill=colour, font=fonts["small"])
        legend_x += draw.textlength(name, font=fonts["small"]) + 16


def render_training_curves(log_history: Sequence[Mapping], title: str = "", width: int = 900) -> Image.Image:
    """Two panels: the loss with its logged terms, and the learning rate, against the step. ValueError when no
    entry logs a training loss."""
    series = curve_series(log_history)
    if "loss" not in series:
        raise ValueError("The log history has no training loss entries (set --logging_steps to log them).")
    fonts = {"title": _font(20), "text": _font(15), "small": _font(12)}
    panel_height, left, right = 220, 84, width - 24
    top = 50 if title else 30
    has_lr = "learning_rate" in series
    height = top + panel_height + (panel_height + 60 if has_lr else 0) + 50
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((24, 14), title, fill=TEXT, font=fonts["title"])
    losses = {name: values for name, values in series.items() if name != "learning_rate"}
    colours = {"loss": _LOSS_COLOUR}
    for index, name in enumerate(n for n in losses if n != "loss"):
        colours[name] = OTHER_COLOURS[index % len(OTHER_COLOURS)]
    _panel(draw, (left, top + 10, right, top + 10 + panel_height), losses, colours, "training loss (per step)", fonts)
    if has_lr:
        lr_top = top + panel_height + 70
        _panel(draw, (left, lr_top, right, lr_top + panel_height), {"learning_rate": series["learning_rate"]},
               {"learning_rate": _LR_COLOUR}, "learning rate", fonts)
    draw.text((width // 2 - 20, height - 24), "step", fill=TEXT, font=fonts["text"])
    return image


def plot_training_curves(log_history: Sequence[Mapping], path: str | Path, title: str = "") -> Path:
    """`render_training_curves` written to `path` (PNG); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_training_curves(log_history, title).save(path, format="PNG")
    return path


__all__ = ["CURVES_FILE", "curve_series", "plot_training_curves", "render_training_curves"]
