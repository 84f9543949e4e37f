from .configuration_video_clip import SCORING_HEADS, VideoClipConfig
from .configuration_video_xclip import VideoXClipConfig
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
from .modeling_video_xclip import VideoXClipModel, VideoXClipOutput, XClipVideoContext

__all__ = ["SCORING_HEADS", "VIDEO_CLIP_SCORING_HEADS", "VideoClipConfig", "VideoClipCosineHead",
           "VideoClipDescriptorBank", "VideoClipLayout", "VideoClipModel", "VideoClipOptimalDescriptorHead",
           "VideoClipOutput", "VideoClipPreTrainedModel", "VideoXClipConfig", "VideoXClipModel", "VideoXClipOutput",
           "XClipVideoContext", "combine_view_logits", "scaled_cosine_logits", "template_ensemble"]
