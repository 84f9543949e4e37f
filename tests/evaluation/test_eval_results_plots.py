import json

import pytest
import torch
from PIL import Image

from hfvideoclip.evaluation.harness import EvalOutput, MisclassifiedExample
from hfvideoclip.evaluation.plots import plot_split, render_split_figure
from hfvideoclip.evaluation.results import format_results_table, load_results, write_results

RESULTS = {
    "protocol": "toy-b2n",
    "model": "tiny",
    "metrics": {"base_top1": 0.5, "novel_top1": 0.25, "hm": 1 / 3, "base_top1_std": 0.1, "novel_top1_std": 0.05,
                "hm_std": 0.02},
    "per_split": [{"split": "split0", "metrics": {"base_top1": 0.6, "novel_top1": 0.3, "hm": 0.4}},
                  {"split": "split1", "metrics": {"base_top1": 0.4, "novel_top1": 0.2, "hm": 0.2667}}],
}


def test_write_and_load_roundtrip(tmp_path):
    path = write_results(RESULTS, tmp_path / "out")
    assert path == tmp_path / "out" / "results.json"
    assert load_results(path) == RESULTS
    assert load_results(tmp_path / "out") == RESULTS
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "toy-b2n" in markdown and "tiny" in markdown


def test_table_rows_and_mean_std():
    table = format_results_table(RESULTS)
    lines = table.strip().splitlines()
    assert lines[0] == "| split | base_top1 | novel_top1 | hm |"
    assert lines[2] == "| split0 | 60.0 | 30.0 | 40.0 |"
    assert lines[-1] == "| mean ± std | 50.0 ± 10.0 | 25.0 ± 5.0 | 33.3 ± 2.0 |"


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.pop("per_split"), "'per_split'"),
    (lambda r: r.pop("protocol"), "'protocol'"),
    (lambda r: r["per_split"][1].pop("metrics"), "'per_split[1].metrics'"),
    (lambda r: r["per_split"][0].pop("split"), "'per_split[0].split'"),
    (lambda r: r["metrics"].update(hm="high"), "'metrics.hm'"),
])
def test_load_results_names_file_and_missing_field(tmp_path, mutate, field):
    broken = json.loads(json.dumps(RESULTS))
    mutate(broken)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError) as error:
        load_results(path)
    assert str(path) in str(error.value) and field in str(error.value)


def test_load_results_bad_json_and_missing_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results(path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_results(tmp_path / "nowhere")


def _output(names, labels, predictions, with_examples):
    labels = torch.tensor(labels)
    logits = torch.full((len(labels), len(names)), -2.0)
    logits[torch.arange(len(labels)), torch.tensor(predictions)] = 2.0
    scores = logits.softmax(dim=-1)
    examples = []
    if with_examples:
        for row in range(len(labels)):
            if predictions[row] != labels[row]:
                frames = torch.zeros(8, 32, 32, 3, dtype=torch.uint8)
                for t in range(8):
                    frames[t, 12:20, 2 + 3 * t:10 + 3 * t] = torch.tensor([220, 40, 40], dtype=torch.uint8)
                top = scores[row].topk(3)
                examples.append(MisclassifiedExample(f"/videos/clip_{row}.mp4", frames, int(labels[row]),
                                                     top.indices.tolist(), top.values.tolist()))
    return EvalOutput(scores=scores, labels=labels, class_names=names, video_paths=[""] * len(labels),
                      logits=logits, examples=examples[:4])


def test_plot_is_a_valid_png(tmp_path):
    base = _output(["a circle moving left", "a circle moving right", "a square blinking"], [0, 0, 1, 1, 2],
                   [0, 1, 0, 1, 2], with_examples=True)
    novel = _output(["a triangle moving up", "a triangle rotating"], [0, 1, 1], [0, 0, 1], with_examples=False)
    path = plot_split({"base": base, "novel": novel}, tmp_path / "plots" / "plot_split0.png", title="toy-b2n")
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        width, height = image.size
    assert width >= 600 and 300 <= height <= 4000
    # The figure is not blank: bars and frames add colour.
    figure = render_split_figure({"base": base})
    assert len(set(figure.convert("RGB").getdata())) > 10
    with pytest.raises(ValueError):
        plot_split({}, tmp_path / "empty.png")


def test_base_vs_novel_scatter_puts_each_method_where_its_accuracies_are(tmp_path):
    from hfvideoclip.evaluation.plots import METHOD_COLOURS, plot_base_vs_novel, render_base_vs_novel

    # ce: high base, low novel; froster: lower base, higher novel (error bars on one of them only)
    points = {"ce": {"base": 70.0, "novel": 35.0, "base_std": 4.0, "novel_std": 6.0},
              "froster": {"base": 60.0, "novel": 50.0}}
    figure = render_base_vs_novel(points, title="toy-b2n")
    pixels = list(figure.getdata())
    width = figure.size[0]

    def centre(colour):
        """Centre of the method's dot: pixels whose 7 x 7 neighbourhood is all its colour (not bars, lines, text)."""
        def is_colour(x, y):
            return 0 <= x < width and 0 <= y * width < len(pixels) and pixels[y * width + x] == colour

        found = [(i % width, i // width) for i, p in enumerate(pixels) if p == colour
                 and all(is_colour(i % width + dx, i // width + dy) for dx in (-3, 3) for dy in (-3, 3))]
        assert found, f"no dot of {colour}"
        xs, ys = sorted(x for x, _ in found), sorted(y for _, y in found)
        return xs[len(xs) // 2], ys[len(ys) // 2]

    (ce_x, ce_y), (froster_x, froster_y) = centre(METHOD_COLOURS[0]), centre(METHOD_COLOURS[1])
    assert ce_x > froster_x + 40, "higher base top-1 is further right"
    assert froster_y < ce_y - 40, "higher novel top-1 is higher up"
    path = plot_base_vs_novel(points, tmp_path / "b2n.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
    with pytest.raises(ValueError, match="'froster'.*'novel'"):
        render_base_vs_novel({"froster": {"base": 60.0}})


def test_training_curves_draw_loss_terms_and_learning_rate(tmp_path):
    from hfvideoclip.evaluation.training_curves import curve_series, plot_training_curves

    history = [{"step": s, "loss": 3.0 / s, "ce": 2.0 / s, "learning_rate": 1e-3 * (1 - s / 10), "epoch": s / 5,
                "grad_norm": 1.0} for s in range(1, 9)] + [{"step": 8, "eval_loss": 0.5},
                                                            {"step": 8, "train_loss": 1.0, "train_runtime": 3.0}]
    series = curve_series(history)
    assert set(series) == {"loss", "ce", "learning_rate"}  # no epoch, grad_norm, eval or summary entries
    assert series["loss"][0] == (1.0, 3.0) and len(series["learning_rate"]) == 8
    path = plot_training_curves(history, tmp_path / "curves.png", title="ce")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.height > 400  # two panels
    with pytest.raises(ValueError, match="--logging_steps"):
        plot_training_curves([{"step": 1, "train_loss": 1.0}], tmp_path / "none.png")
