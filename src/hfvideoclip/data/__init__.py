"""Data: protocols (a registry of named loaders), the user's own videos, decoding, sampling and transforms.

```python
from hfvideoclip.data import available_protocols, load_protocol, load_video_classification_data, resolve_data
data = load_protocol("toy-b2n")                                     # ProtocolData: splits of train + eval sets
data = load_video_classification_data(validation_dir="my_videos")   # one folder of videos per class
```
Importing this package is light: toy protocols register lazy loaders; `datasets` is imported on use.
"""

from .own_data import (
    VideoDataArguments,
    add_data_arguments,
    load_video_classification_data,
    natural_class_name,
    resolve_data,
)
from .protocols import (
    ProtocolData,
    ProtocolSplit,
    available_protocols,
    load_protocol,
    register_protocol,
    unregister_protocol,
)

__all__ = ["ProtocolData", "ProtocolSplit", "VideoDataArguments", "add_data_arguments", "available_protocols",
           "load_protocol", "load_video_classification_data", "natural_class_name", "register_protocol",
           "resolve_data", "unregister_protocol"]
