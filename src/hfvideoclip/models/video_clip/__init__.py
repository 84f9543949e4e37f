from .configuration_video_clip import SCORING_HEADS, VideoClipConfig
from .modeling_video_clip import (
    VIDEO_CLIP_SCORING_HEADS,
    VideoClipCosineHead,
    VideoClipLayout,
    VideoClipModel,
    VideoClipOutput,
    VideoClipPreTrainedModel,
    scaled_cosine_logits,
    template_ensemble,
)

__all__ = ["SCORING_HEADS", "VIDEO_CLIP_SCORING_HEADS", "VideoClipConfig", "VideoClipCosineHead", "VideoClipLayout",
           "VideoClipModel", "VideoClipOutput", "VideoClipPreTrainedModel", "scaled_cosine_logits",
           "template_ensemble"]
