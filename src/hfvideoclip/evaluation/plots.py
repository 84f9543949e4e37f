"""Figures drawn with Pillow (no matplotlib). One PNG per evaluated split: per-class top-1 accuracy bars for each
evaluation set (base and novel, or test), then a strip of frames of a few misclassified videos with their true
label and top-3 predictions. One PNG comparing methods: base vs novel top-1 over curves of equal harmonic mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from .metrics import topk_accuracy

if TYPE_CHECKING:
    from .harness import EvalOutput

WIDTH = 1200
MARGIN = 24
ROW_HEIGHT = 24
BAR_AREA = 420
MAX_CLASSES = 60
MAX_FRAMES = 8
FRAME_CELL = 84

BACKGROUND = (255, 255, 255)
TEXT = (25, 25, 25)
MUTED = (110, 110, 110)
GRID = (225, 225, 225)
CHANCE = (200, 40, 40)
WRONG = (190, 30, 30)
RIGHT = (20, 120, 50)
SET_COLOURS = {"base": (52, 110, 190), "novel": (230, 130, 30), "test": (52, 110, 190)}
OTHER_COLOURS = [(120, 80, 170), (40, 150, 150), (150, 150, 40)]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, AttributeError):  # Pillow < 10.1 or no FreeType: fixed bitmap font
        return ImageFont.load_default()


class _Fonts:
    def __init__(self):
        self.title = _font(24)
        self.heading = _font(19)
        self.text = _font(15)
        self.small = _font(13)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> float:
    return draw.textlength(text, font=font)


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> str:
    """`text` shortened with an ellipsis to fit `width` pixels."""
    if _text_width(draw, text, font) <= width:
        return text
    while text and _text_width(draw, text + "…", font) > width:
        text = text[:-1]
    return text + "…"


def _set_colour(name: str, index: int) -> tuple[int, int, int]:
    return SET_COLOURS.get(name, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def _class_rows(output: EvalOutput) -> tuple[list[tuple[int, float, int, int]], int]:
    """(class index, accuracy, correct, total) for the classes to draw (the least accurate when there are many)."""
    accuracy = output.per_class_accuracy().tolist()
    totals = [0] * len(output.class_names)
    for label in output.labels.tolist():
        totals[label] += 1
    correct = [0 if math.isnan(value) else round(value * total) for value, total in zip(accuracy, totals)]
    rows = [(index, value, correct[index], totals[index]) for index, value in enumerate(accuracy)
            if totals[index] > 0]
    hidden = 0
    if len(rows) > MAX_CLASSES:
        hidden = len(rows) - MAX_CLASSES
        rows = sorted(sorted(rows, key=lambda r: r[1])[:MAX_CLASSES], key=lambda r: r[0])
    return rows, hidden


def _frames_strip(frames, cell: int) -> Image.Image:
    """uint8 (T, H, W, 3) -> one image of up to MAX_FRAMES frames side by side, each scaled into `cell` pixels."""
    frames = frames.detach().cpu()
    count = frames.shape[0]
    picks = list(range(count)) if count <= MAX_FRAMES else [round(i * (count - 1) / (MAX_FRAMES - 1))
                                                            for i in range(MAX_FRAMES)]
    height, width = int(frames.shape[1]), int(frames.shape[2])
    scale = cell / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.NEAREST if scale >= 2 else Image.BILINEAR
    strip = Image.new("RGB", (len(picks) * (size[0] + 4) - 4, size[1]), BACKGROUND)
    for slot, index in enumerate(picks):
        frame = Image.fromarray(frames[index].numpy()).resize(size, resample)
        strip.paste(frame, (slot * (size[0] + 4), 0))
    return strip


def render_split_figure(outputs: Mapping[str, EvalOutput], title: str = "") -> Image.Image:
    """The figure of one split as a PIL image (see `plot_split`)."""
    fonts = _Fonts()
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    name_width = 0.0
    for output in outputs.values():
        for name in output.class_names:
            name_width = max(name_width, _text_width(scratch, name, fonts.text))
    name_width = min(name_width, WIDTH - 2 * MARGIN - BAR_AREA - 150)

    # Heights first, then draw.
    blocks = []
    height = MARGIN + 34 + 8
    for index, (set_name, output) in enumerate(outputs.items()):
        rows, hidden = _class_rows(output)
        block_height = 30 + 20 + len(rows) * ROW_HEIGHT + (22 if hidden else 0) + 22
        examples = output.examples
        example_height = (34 + len(examples) * (max(FRAME_CELL, 4 * 20) + 16)) if examples else 0
        blocks.append((index, set_name, output, rows, hidden, block_height, example_height))
        height += block_height + example_height + 16
    height += MARGIN

    image = Image.new("RGB", (WIDTH, int(height)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    draw.text((MARGIN, y), _fit(draw, title or "evaluation", fonts.title, WIDTH - 2 * MARGIN), fill=TEXT,
              font=fonts.title)
    y += 34 + 8
    bar_x = MARGIN + name_width + 12
    for index, set_name, output, rows, hidden, _, _ in blocks:
        colour = _set_colour(set_name, index)
        total = len(output.labels)
        top1 = topk_accuracy(output.scores, output.labels, 1)
        chance = 1.0 / max(1, len(output.class_names))
        heading = (f"{set_name}: top-1 {100 * top1:.1f} % on {total} videos, {len(output.class_names)} classes "
                   f"(chance {100 * chance:.1f} %)")
        draw.text((MARGIN, y), heading, fill=colour, font=fonts.heading)
        y += 30
        # Axis labels 0, 25, 50, 75, 100 %.
        for tick in (0, 25, 50, 75, 100):
            x = bar_x + BAR_AREA * tick / 100
            label = f"{tick}%"
            draw.text((x - _text_width(draw, label, fonts.small) / 2, y), label, fill=MUTED, font=fonts.small)
        y += 20
        top = y
        for class_index, accuracy, hits, count in rows:
            name = _fit(draw, output.class_names[class_index], fonts.text, name_width)
            draw.text((bar_x - 12 - _text_width(draw, name, fonts.text), y + 3), name, fill=TEXT, font=fonts.text)
            draw.rectangle([bar_x, y + 3, bar_x + BAR_AREA, y + ROW_HEIGHT - 4], fill=(245, 245, 245))
            if accuracy > 0:
                draw.rectangle([bar_x, y + 3, bar_x + BAR_AREA * accuracy, y + ROW_HEIGHT - 4], fill=colour)
            draw.text((bar_x + BAR_AREA + 10, y + 3), f"{100 * accuracy:.0f}%  ({hits}/{count})", fill=TEXT,
                      font=fonts.text)
            y += ROW_HEIGHT
        for tick in (25, 50, 75):
            x = bar_x + BAR_AREA * tick / 100
            draw.line([x, top, x, y], fill=GRID, width=1)
        chance_x = bar_x + BAR_AREA * chance
        for dash in range(int(top), int(y), 8):
            draw.line([chance_x, dash, chance_x, min(dash + 4, y)], fill=CHANCE, width=2)
        if hidden:
            draw.text((bar_x, y + 2), f"… {hidden} more accurate classes not shown", fill=MUTED, font=fonts.small)
            y += 22
        draw.text((bar_x, y + 2), "dashed red line: chance", fill=MUTED, font=fonts.small)
        y += 22

        if output.examples:
            y += 8
            draw.text((MARGIN, y), f"{set_name}: misclassified videos (sampled frames of the first view)", fill=colour,
                      font=fonts.heading)
            y += 30
            for example in output.examples:
                strip = _frames_strip(example.frames, FRAME_CELL)
                image.paste(strip, (MARGIN, y))
                text_x = MARGIN + strip.width + 16
                text_width = WIDTH - MARGIN - text_x
                true_name = output.class_names[example.label]
                draw.text((text_x, y), _fit(draw, f"true: {true_name}", fonts.text, text_width), fill=RIGHT,
                          font=fonts.text)
                for rank, (class_index, score) in enumerate(zip(example.top_indices, example.top_scores), 1):
                    line = f"{rank}. {output.class_names[class_index]}  {score:.2f}"
                    fill = RIGHT if class_index == example.label else (WRONG if rank == 1 else TEXT)
                    draw.text((text_x, y + 20 * rank), _fit(draw, line, fonts.text, text_width), fill=fill,
                              font=fonts.text)
                file_name = Path(example.video_path).name
                draw.text((MARGIN, y + max(strip.height, 4 * 20) + 1), _fit(draw, file_name, fonts.small, WIDTH),
                          fill=MUTED, font=fonts.small)
                y += max(FRAME_CELL, 4 * 20) + 16
        y += 16
    return image


def plot_split(outputs: Mapping[str, EvalOutput], path: str | Path, title: str = "") -> Path:
    """Write the figure of one split (a dict eval-set name -> `EvalOutput`) to `path` as PNG; returns the path."""
    if not outputs:
        raise ValueError("plot_split got no evaluation sets to draw.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_split_figure(outputs, title).save(path, format="PNG")
    return path




METHOD_COLOURS = [(52, 110, 190), (230, 130, 30), (20, 140, 70), (190, 40, 40), (120, 80, 170), (40, 150, 150),
                  (150, 120, 30), (90, 90, 90)]


def render_base_vs_novel(points: Mapping[str, Mapping[str, float]], title: str = "", size: int = 720
                         ) -> Image.Image:
    """A base-vs-novel scatter, as the papers compare methods: one point per method at (base top-1, novel top-1) in
    %, with +-std bars when ``points[method]`` has ``base_std`` / ``novel_std``, over dashed curves of equal
    harmonic mean. ``points``: method -> {"base", "novel"[, "base_std", "novel_std"]}."""
    if not points:
        raise ValueError("render_base_vs_novel got no methods to plot.")
    for method, point in points.items():
        if "base" not in point or "novel" not in point:
            raise ValueError(f"Method {method!r}: a point needs 'base' and 'novel' top-1 (in %), got {dict(point)}.")
    fonts = _Fonts()
    left, top, plot = 80, 70 if title else 30, size - 120
    image = Image.new("RGB", (size + 150, top + plot + 70), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((MARGIN, 20), title, fill=TEXT, font=fonts.title)
    values = [p[key] for p in points.values() for key in ("base", "novel")]
    step = 5 if max(values) - min(values) <= 30 else 10
    low = max(0.0, step * math.floor(min(values) / step - 1))
    high = min(100.0, max(low + 4 * step, step * math.ceil(max(values) / step + 1)))

    def at(base: float, novel: float) -> tuple[float, float]:
        base, novel = min(max(base, low), high), min(max(novel, low), high)  # std bars stop at the frame
        return (left + (base - low) / (high - low) * plot, top + plot - (novel - low) / (high - low) * plot)

    for tick in range(int(low), int(high) + 1, step):
        x, y = at(tick, tick)
        draw.line([(x, top), (x, top + plot)], fill=GRID)
        draw.line([(left, y), (left + plot, y)], fill=GRID)
        draw.text((x - 8, top + plot + 6), str(tick), fill=MUTED, font=fonts.small)
        draw.text((left - 30, y - 7), str(tick), fill=MUTED, font=fonts.small)
    for hm in range(int(low) + step, int(high), step):  # novel = hm * base / (2 base - hm) on the curve HM = hm
        curve = [(b, hm * b / (2 * b - hm)) for b in [low + (high - low) * i / 400 for i in range(401)]
                 if 2 * b - hm > 0]
        curve = [at(b, n) for b, n in curve if low <= n <= high]
        for i in range(0, len(curve) - 1, 2):
            draw.line([curve[i], curve[i + 1]], fill=(200, 200, 200))
        if curve:
            draw.text((curve[-1][0] - 40, curve[-1][1] - 16), f"HM {hm}", fill=MUTED, font=fonts.small)
    draw.rectangle([left, top, left + plot, top + plot], outline=MUTED)
    draw.text((left + plot / 2 - 50, top + plot + 28), "base top-1 (%)", fill=TEXT, font=fonts.text)
    draw.text((10, top - 24), "novel top-1 (%)", fill=TEXT, font=fonts.text)
    placed = []
    for index, (method, point) in enumerate(points.items()):
        colour = METHOD_COLOURS[index % len(METHOD_COLOURS)]
        x, y = at(point["base"], point["novel"])
        base_std, novel_std = point.get("base_std", 0.0), point.get("novel_std", 0.0)
        draw.line([at(point["base"] - base_std, point["novel"]), at(point["base"] + base_std, point["novel"])],
                  fill=colour, width=2)
        draw.line([at(point["base"], point["novel"] - novel_std), at(point["base"], point["novel"] + novel_std)],
                  fill=colour, width=2)
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=colour)
        placed.append((y, x, method, colour))
    # labels in a column right of the frame, in the points' vertical order, joined to their points by a line
    last = -math.inf
    for y, x, method, colour in sorted(placed):
        label_y = max(y - 8, last + 20)
        last = label_y
        draw.line([(x + 7, y), (left + plot + 8, label_y + 8)], fill=colour)
        draw.text((left + plot + 12, label_y), method, fill=colour, font=fonts.text)
    return image


def plot_base_vs_novel(points: Mapping[str, Mapping[str, float]], path: str | Path, title: str = "") -> Path:
    """`render_base_vs_novel` written to ``path`` (PNG); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_base_vs_novel(points, title).save(path, format="PNG")
    return path


__all__ = ["plot_base_vs_novel", "plot_split", "render_base_vs_novel", "render_split_figure"]
