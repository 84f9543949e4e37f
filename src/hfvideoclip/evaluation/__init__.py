"""Open-vocabulary evaluation: metrics, the multi-view harness, results files and plots.

```python
from hfvideoclip.evaluation import evaluate_protocol, load_open_vocab_metric
results = evaluate_protocol(model, processor, protocol_data, output_dir="out", model_name="my-model")
metric = load_open_vocab_metric()            # an `evaluate.Metric`, loaded offline from the package
metric.compute(predictions=scores.tolist(), references=labels.tolist())   # {"top1": ..., "top5": ...}
```
"""

from __future__ import annotations

from pathlib import Path

from .harness import (
    EvalOutput,
    MisclassifiedExample,
    aggregate_metrics,
    evaluate_dataset,
    evaluate_protocol,
    split_metrics,
)
from .metrics import harmonic_mean, mean_std, per_class_accuracy, topk_accuracy, topk_correct
from .results import format_results_table, load_results, validate_results, write_results

OPEN_VOCAB_METRIC_PATH = str(Path(__file__).resolve().parent / "open_vocab_accuracy" / "open_vocab_accuracy.py")
"""Path of the `evaluate` metric script: ``evaluate.load(OPEN_VOCAB_METRIC_PATH)`` works offline."""


def load_open_vocab_metric(**kwargs):
    """The shipped `open_vocab_accuracy` metric (`evaluate.load` by path, no Hub access). `kwargs` go to
    `evaluate.load` (e.g. `experiment_id`, `num_process`, `process_id` for distributed use). `evaluate` is an
    extra: without it, an ImportError names the install command."""
    try:
        import evaluate
    except ImportError:
        raise ImportError('the open_vocab_accuracy metric needs the `evaluate` library: pip install '
                          '"hfvideoclip[evaluate]" (the Trainer and evaluate_protocol do not).', name="evaluate"
                          ) from None

    return evaluate.load(OPEN_VOCAB_METRIC_PATH, **kwargs)


__all__ = ["OPEN_VOCAB_METRIC_PATH", "EvalOutput", "MisclassifiedExample", "aggregate_metrics", "evaluate_dataset",
           "evaluate_protocol", "format_results_table", "harmonic_mean", "load_open_vocab_metric", "load_results",
           "mean_std", "per_class_accuracy", "split_metrics", "topk_accuracy", "topk_correct", "validate_results",
           "write_results"]
