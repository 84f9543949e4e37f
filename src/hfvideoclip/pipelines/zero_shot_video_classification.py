"""The `zero-shot-video-classification` pipeline as the package registers it.

```python
clf = pipeline("zero-shot-video-classification", model="path/or/hub-id")
clf("video.mp4", candidate_labels=["archery", "juggling"])   # [{"label", "score"}, ...] best first
```
The pipeline itself lives with the model (`models/video_clip/pipeline_video_clip.py`, shipped with saved models for
`trust_remote_code`); this subclass adds what needs the rest of the package: the MSTA / adapter weights of an exported
`msta` run (`msta/` next to the model) and, for OST models, the template fallback for labels without descriptors.
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
        if os.path.isdir(str(getattr(self.model, "name_or_path", ""))):  # an exported msta / adapter run
            from ..adapters.bottleneck import load_saved_adapter

            self.model = load_saved_adapter(self.model, self.model.name_or_path).eval()

    def class_bank(self, labels, templates, descriptors):
        from ..text.class_embeddings import class_bank

        return class_bank(self.model, self.processor.tokenizer, labels, templates, device=self.model.device,
                          descriptors=descriptors)


__all__ = ["ZeroShotVideoClassificationPipeline"]
