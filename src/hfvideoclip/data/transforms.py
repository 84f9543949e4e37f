"""Moved to `hfvideoclip.models.video_clip.video_transforms` (it ships with saved models for `trust_remote_code`).

This name is an alias of that module (the same module object, so patching either patches both).
"""

import sys

from ..models.video_clip import video_transforms as _module

sys.modules[__name__] = _module
