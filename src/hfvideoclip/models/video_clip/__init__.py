from .configuration_video_clip import SCORING_HEADS, VideoClipConfig
from .modeling_video_clip import (
    VIDEO_CLIP_SCORING_HEADS,
    VideoClipCosineHead,
    VideoClipDescriptorBank,
    VideoClipLayout,
    VideoClipModel,
    VideoClipOptimalDescriptorHead,
    VideoClipOutput,
    VideoClipPreTrainedModel,
    combine_view_logits,
    scaled_cosine_logits,
    template_ensemble,
)

__all__ = ["SCORING_HEADS", "VIDEO_CLIP_SCORING_HEADS", "VideoClipConfig", "VideoClipCosineHead",
           "VideoClipDescriptorBank", "VideoClipLayout", "VideoClipModel", "VideoClipOptimalDescriptorHead",
           "VideoClipOutput", "VideoClipPreTrainedModel", "combine_view_logits", "scaled_cosine_logits", "template_ensemble"]
