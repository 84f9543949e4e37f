"""The `zero-shot-video-classification` pipeline as the package registers it.

```python
clf = pipeline("zero-shot-video-classification", model="path/or/hub-id")
clf("video.mp4", candidate_labels=["archery", "juggling"])   # [{"label", "score"}, ...] best first
```
The pipeline itself lives with the model (`models/video_clip/pipeline_video_clip.py`, shipped with saved models for
`trust_remote_code`); this subclass adds what needs the rest of the package: the MSTA / adapter weights of a run
exported before `config.adapter` (`msta/` next to the model) and, for OST models, the template fallback for labels
without descriptors.
"""

from __future__ import annotations

import os

from ..models.video_clip.pipeline_video_clip import (
    ZeroShotVideoClassificationPipeline as _RepositoryPipeline,
)
from ..models.video_clip.pipeline_video_clip import _as_video_model, _stack_views  # noqa: F401  (tests use them)


class ZeroShotVideoClassificationPipeline(_RepositoryPipeline):
    __doc__ = _RepositoryPipeline.__doc__

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A folder exported before `config.adapter` holds an msta / adapter run's weights in `msta/`; a model with
        # its adapters (built in, or an `MstaModel`) is used as it is.
        from ..adapters.bottleneck import has_adapters, load_saved_adapter

        if not has_adapters(self.model) and os.path.isdir(str(getattr(self.model, "name_or_path", ""))):
            self.model = load_saved_adapter(self.model, self.model.name_or_path).eval()

    def class_bank(self, labels, templates, descriptors):
        from ..text.class_embeddings import class_bank

        return class_bank(self.model, self.processor.tokenizer, labels, templates, device=self.model.device,
                          descriptors=descriptors)


__all__ = ["ZeroShotVideoClassificationPipeline"]
