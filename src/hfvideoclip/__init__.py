"""hfvideoclip: open-vocabulary video recognition with CLIP-style models on the Hugging Face stack.

Importing the package registers `VideoClipConfig`/`VideoClipModel`/`VideoClipProcessor` (and X-CLIP as a backbone,
`VideoXClipConfig`/`VideoXClipModel`) with the `Auto*` classes and the `zero-shot-video-classification` pipeline task.
"""

from .models.video_clip import (
    VideoClipConfig,
    VideoClipModel,
    VideoClipOutput,
    VideoXClipConfig,
    VideoXClipModel,
)
from .models.video_clip.processing_video_clip import VideoClipProcessor, VideoClipVideoProcessor
from .registration import register

__version__ = "0.1.0"

register()

__all__ = ["VideoClipConfig", "VideoClipModel", "VideoClipOutput", "VideoClipProcessor", "VideoClipVideoProcessor",
           "VideoXClipConfig", "VideoXClipModel", "register"]
