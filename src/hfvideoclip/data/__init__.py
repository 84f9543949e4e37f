"""Data: protocols (a registry of named loaders), the user's own videos, decoding, sampling and transforms.

```python
from hfvideoclip.data import available_protocols, load_protocol, load_video_classification_data, resolve_data
data = load_protocol("toy-b2n")                                     # ProtocolData: splits of train + eval sets
data = load_video_classification_data(validation_dir="my_videos")   # one folder of videos per class
```
The official benchmarks' annotation formats (Kinetics CSVs, UCF-101 / HMDB-51 split lists, SSv2 JSON, path-label
lists) become `datasets` with `build_kinetics`, `build_ucf101`, ... (`hfvideoclip.data.datasets`).
Importing this package is light: toy protocols register lazy loaders; `datasets` is imported on use.
"""

from .benchmarks import describe_protocols, select_classes
from .datasets import (
    BuildReport,
    build_dataset,
    build_from_list,
    build_hmdb51,
    build_kinetics,
    build_ssv2,
    build_ucf101,
    find_videos,
    make_miniature,
)
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

__all__ = ["BuildReport", "ProtocolData", "ProtocolSplit", "VideoDataArguments", "add_data_arguments",
           "available_protocols", "build_dataset", "build_from_list", "build_hmdb51", "build_kinetics", "build_ssv2",
           "build_ucf101", "describe_protocols", "find_videos", "make_miniature", "select_classes",
           "load_protocol", "load_video_classification_data", "natural_class_name", "register_protocol",
           "resolve_data", "unregister_protocol"]
