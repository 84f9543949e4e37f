"""Registration with the `transformers` Auto classes and pipeline registry (run on `import hfvideoclip`)."""

from __future__ import annotations

from transformers import AutoConfig, AutoModel, AutoProcessor
from transformers.pipelines import PIPELINE_REGISTRY

from .models.video_clip import VideoClipConfig, VideoClipModel, VideoXClipConfig, VideoXClipModel
from .models.video_clip.processing_video_clip import VideoClipProcessor

PIPELINE_TASK = "zero-shot-video-classification"
_registered = False


def register() -> None:
    """Idempotent. Also marks config and model for `trust_remote_code` export: `save_pretrained` then copies the
    self-contained configuration and modeling files next to the weights and writes `auto_map`."""
    global _registered
    if _registered:
        return
    from .pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline

    AutoConfig.register(VideoClipConfig.model_type, VideoClipConfig, exist_ok=True)
    AutoModel.register(VideoClipConfig, VideoClipModel, exist_ok=True)
    AutoProcessor.register(VideoClipConfig, VideoClipProcessor, exist_ok=True)
    VideoClipConfig.register_for_auto_class()
    VideoClipModel.register_for_auto_class("AutoModel")
    AutoConfig.register(VideoXClipConfig.model_type, VideoXClipConfig, exist_ok=True)  # X-CLIP as a backbone
    AutoModel.register(VideoXClipConfig, VideoXClipModel, exist_ok=True)
    AutoProcessor.register(VideoXClipConfig, VideoClipProcessor, exist_ok=True)
    VideoXClipConfig.register_for_auto_class()
    VideoXClipModel.register_for_auto_class("AutoModel")
    PIPELINE_REGISTRY.register_pipeline(PIPELINE_TASK, pipeline_class=ZeroShotVideoClassificationPipeline,
                                        pt_model=AutoModel, type="multimodal")
    _registered = True
