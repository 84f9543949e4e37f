"""Exceptions raised for bad user input. Each message names the input and the fix.

`VideoDecodingError` is defined with the decoder (`models/video_clip/video_decoding.py`, which ships with saved
models for `trust_remote_code`) and re-exported here.
"""

from .models.video_clip.video_decoding import VideoDecodingError

__all__ = ["VideoDecodingError"]
