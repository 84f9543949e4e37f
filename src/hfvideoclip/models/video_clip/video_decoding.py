"""Decode the sampled frames of a video with PyAV, touching as little of the file as possible.

``decode_video`` first demuxes the video stream without decoding it (cheap: a few ms for a 10 s clip) to learn
every frame's timestamp and where the keyframes are. It then plans the decoding of only the frames it needs:

- each needed frame can be reached by seeking to the keyframe before it and decoding forward from there, or by
  decoding on from the previous needed frame; it takes whichever decodes fewer frames (a seek also costs about
  ``_SEEK_COST`` frames). Frames that share a GOP are reached in one forward run. With dense keyframes (e.g.
  one per second) this seeks to every needed frame; with sparse ones (x264's default keyframe interval of 250)
  it becomes one sequential pass;
- runs use the decoder's frame threading (``thread_type="AUTO"``) when they are long enough to gain from it
  and cores are idle (not inside DataLoader workers, which already keep the cores busy);
- frames that are neither needed nor used as references by other frames are not decoded at all (FFmpeg's
  ``skip_frame="NONREF"`` for their packets), and only the needed frames are converted to RGB.

Frames are matched by presentation timestamp, so every strategy returns the same pixels. When timestamps are
missing or a plan does not deliver all its frames (unusual streams), it falls back to one sequential pass that
counts frames. Problems with the input raise ``hfvideoclip.errors.VideoDecodingError`` naming the input.

Which frames: the segments of ``segment_frame_indices`` are laid over the video's presentation time, from the
first frame's timestamp to the end of the last frame (shown for the median frame interval), and each sampled
position takes the frame on screen at that time. For constant frame rate this is exactly
``segment_frame_indices(number of frames, ...)``; with variable frame rate, dropped frames (timestamp gaps) or a
wrong frame count in the header it still gives the frames at the right times (edit lists: FFmpeg marks the
frames outside the edit as discarded, and those are left out). Without usable timestamps it samples frames by
their order.

What comes out is what players show:

- the display matrix (phone videos: ``tkhd`` matrix in mp4/mov, projection in mkv, display-orientation SEI),
  read per frame from FFmpeg's ``DISPLAYMATRIX`` frame side data, is applied: 90/180/270 degree rotations
  (height and width swap for 90/270) and mirroring; other angles are snapped to the nearest multiple of 90
  degrees. A ``rotate`` metadata tag is not read: FFmpeg's demuxers turn the mp4/mov matrix into the side
  data, and players ignore the tag elsewhere;
- non-square pixels (sample aspect ratio, SAR, from the container or the bitstream) are stretched to the
  display aspect ratio along the axis that grows (SAR > 1: wider; SAR < 1: taller), so no resolution is lost;
  SARs outside [1/16, 16] are taken as broken headers and ignored.

Truncated files: where the container says which frames it holds (the mp4/mov index, fragment tables) and some
are missing, or an mp4 is cut before its index ('moov' box) is complete, ``VideoDecodingError`` says the file is
truncated and where. Containers without such an index (mkv/webm, MPEG-TS) are decoded as far as they go, without
the partial frame at the cut.
"""

from __future__ import annotations

import bisect
import io
import os
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

import av
import av.sidedata.sidedata
import av.stream
import av.video.reformatter
import numpy as np
import torch
import torch.utils.data

from .fork_safety import install_fork_guard
from .video_sampling import segment_frame_indices

install_fork_guard()  # frame-threaded decoders left in garbage must not hang forked DataLoader workers


class VideoDecodingError(ValueError):
    """A video file or buffer could not be opened or decoded (missing, not a video, corrupt, empty).

    Raised inside a `torch.utils.data.DataLoader` worker, the error comes back to the main process rebuilt from
    the text "Caught VideoDecodingError in DataLoader worker process 0. Original Traceback ...": the message is
    then put back to the original one (naming the file), with the worker's traceback kept in `worker_traceback`,
    so that a one-line report shows the file and the cause whatever the worker count.
    """

    def __init__(self, message: str = "", *args):
        self.worker_traceback: str | None = None
        if isinstance(message, str) and message.startswith("Caught ") and "\nOriginal Traceback" in message:
            self.worker_traceback = message
            message = _original_message(message) or message
        super().__init__(message, *args)


def _original_message(wrapped: str) -> str | None:
    """The `VideoDecodingError: <message>` line(s) at the end of a worker's formatted traceback, without the prefix."""
    lines = wrapped.rstrip("\n").splitlines()
    for start in range(len(lines) - 1, -1, -1):
        head, sep, rest = lines[start].partition("VideoDecodingError: ")
        if sep and (head == "" or head.endswith(".")) and " " not in head:
            return "\n".join([rest, *lines[start + 1:]])
    return None


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity, e.g. a container's or `taskset`'s limit), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


VideoSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, Mapping[str, Any]]
"""A path, the file's bytes, a binary file object, or a ``datasets.Video(decode=False)`` value
``{"path": ..., "bytes": ...}`` (the bytes when present, else the path)."""

_SEEK_COST = 4
"""Cost of one seek (container seek, decoder flush, costlier keyframe, refilling the frame-reordering delay),
in frames decoded; a measured compromise for H.264 at SD resolution, where decoding forward from the previous
needed frame is preferred unless the jump to the keyframe saves more than this many frames."""

_MIN_THREADED_RUN = 24
"""Shortest average run (frames decoded per seek) for which decoder frame threading pays for its start-up."""

_NONREF_SKIP_CODECS = frozenset({"h264", "mpeg4", "mpeg2video", "mpeg1video"})
"""Codecs whose "non-reference" frames are never referenced, so skipping the unneeded ones is exact. (HEVC is
left out: its sub-layer non-reference pictures can be referenced by higher temporal layers.)"""

_BYTES_NAME = "<bytes input>"
_URL_TIMEOUT = 60.0  # seconds FFmpeg waits for a URL to connect or send data before giving up


def is_url(source: Any) -> bool:
    """A ``scheme://`` string FFmpeg opens itself (``http://``, ``https://``, ...), not a local path."""
    if not isinstance(source, str):
        return False
    scheme, sep, _ = source.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme[0].isalpha() and all(
        c.isalnum() or c in "+.-" for c in scheme)


# --------------------------------------------------------------------------------------------- opening inputs
class _Source:
    """A video input that can be opened (several times) as an ``av`` container; ``name`` is used in errors."""

    def __init__(self, source: Any):
        self._path: str | None = None
        self._buffer: bytes | None = None
        self._file: BinaryIO | None = None
        self._file_start = 0
        bytes_name = _BYTES_NAME
        if isinstance(source, Mapping):  # a datasets.Video(decode=False) value
            path, data = source.get("path"), source.get("bytes")
            if data is None and path is None:
                raise VideoDecodingError(
                    f"Video value {_short_repr(source)} holds neither 'path' nor 'bytes': pass a "
                    "datasets.Video value {'path': ..., 'bytes': ...}, a path, bytes or a binary file object."
                )
            if data is not None:
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise TypeError(
                        f"The 'bytes' of video value {path!r} is a {type(data).__name__}; expected bytes."
                    )
                bytes_name = f"'{os.fspath(path)}' (embedded bytes)" if path else _BYTES_NAME
                source = data
            else:
                source = path
        self._url = is_url(source)
        if self._url:  # FFmpeg reads it (http/https and its other network protocols)
            self._path = source
            self.name = f"'{source}'"
        elif isinstance(source, (str, os.PathLike)):
            self._path = os.fspath(source)
            if isinstance(self._path, bytes):
                self._path = os.fsdecode(self._path)
            self.name = f"'{self._path}'"
            if not os.path.exists(self._path):
                raise VideoDecodingError(
                    f"Video file not found: {self.name} (working directory {os.getcwd()!r}). "
                    "Check the path; relative paths are resolved against the working directory."
                )
            if os.path.isdir(self._path):
                raise VideoDecodingError(
                    f"Video path {self.name} is a directory; pass the path of a video file."
                )
            if os.path.getsize(self._path) == 0:
                raise VideoDecodingError(
                    f"Video file {self.name} is empty (0 bytes); re-download or re-create the file."
                )
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self.name = bytes_name
            self._buffer = bytes(source)
            if not self._buffer:
                raise VideoDecodingError(
                    f"Video {self.name} is empty (0 bytes); pass the bytes of a video file."
                )
        elif hasattr(source, "read"):
            file_name = getattr(source, "name", None)
            self.name = f"'{file_name}'" if isinstance(file_name, str) else "<file object>"
            seekable = False
            try:
                seekable = bool(source.seekable())
            except (AttributeError, OSError, ValueError):
                pass
            try:
                if seekable:
                    self._file = source
                    self._file_start = source.tell()
                    empty = not source.read(1)
                    source.seek(self._file_start)
                else:  # av needs to seek: keep a copy in memory
                    self._buffer = source.read()
                    empty = not self._buffer
            except (OSError, ValueError) as exc:
                raise VideoDecodingError(
                    f"Could not read video {self.name}: {_one_line(exc)}. Pass an open binary file, bytes or a "
                    "path."
                ) from exc
            if isinstance(self._buffer, str) or isinstance(getattr(source, "encoding", None), str):
                raise VideoDecodingError(f"Video {self.name} is a text-mode file; open it with mode 'rb'.")
            if empty:
                raise VideoDecodingError(
                    f"Video {self.name} is empty (no bytes left to read); pass a file positioned at the video's start."
                )
        else:
            raise TypeError(
                f"Unsupported video source of type {type(source).__name__}: pass a path (str or os.PathLike), "
                "bytes, a binary file object or a datasets.Video value {'path': ..., 'bytes': ...} (decoded "
                "frames go through as_video_tensor)."
            )

    def open(self) -> av.container.InputContainer:
        try:
            if self._url:
                return av.open(self._path, mode="r", timeout=_URL_TIMEOUT)
            if self._path is not None:
                return av.open(self._path, mode="r")
            if self._buffer is not None:
                return av.open(io.BytesIO(self._buffer), mode="r")
            self._file.seek(self._file_start)
            if self._file_start:  # FFmpeg seeks to offsets from the start of the video, not of the file
                return av.open(_OffsetFile(self._file, self._file_start), mode="r")
            return av.open(self._file, mode="r")
        except (av.error.FFmpegError, OSError, ValueError, TypeError) as exc:
            if self._url:
                raise VideoDecodingError(
                    f"Could not open video URL {self.name} ({type(exc).__name__}: {_one_line(exc)}); check that it "
                    "is reachable and serves a video FFmpeg can read, or download it and pass the local path."
                ) from exc
            truncation = self.truncation()
            if truncation is not None:
                raise VideoDecodingError(
                    f"Video {self.name} is truncated: {truncation}, so FFmpeg cannot open it "
                    f"({type(exc).__name__}: {_one_line(exc)}). Re-download or re-create the file."
                ) from exc
            raise VideoDecodingError(
                f"Could not open {self.name} as a video ({type(exc).__name__}: {_one_line(exc)}). The data is not "
                "a video container FFmpeg can read (wrong file, or a truncated/corrupt download): check the file, "
                "re-download it, or re-encode it, e.g. `ffmpeg -i in.avi -c:v libx264 out.mp4`."
            ) from exc

    def truncation(self) -> str | None:
        """Why an mp4/mov (ISO base media) input is incomplete: a top-level box that runs past the end of the
        data (a cut download); ``None`` when it is complete, another format, a URL, or cannot be read."""
        if self._url:
            return None
        try:
            if self._path is not None:
                with open(self._path, "rb") as f:
                    return _iso_box_overrun(f, 0, os.path.getsize(self._path))
            if self._buffer is not None:
                return _iso_box_overrun(io.BytesIO(self._buffer), 0, len(self._buffer))
            end = self._file.seek(0, io.SEEK_END)
            try:
                return _iso_box_overrun(self._file, self._file_start, end - self._file_start)
            finally:
                self._file.seek(self._file_start)
        except (OSError, ValueError, struct.error):
            return None


class _OffsetFile(io.RawIOBase):
    """A seekable binary file seen from ``start`` on: a video that begins inside a file (after a header)."""

    def __init__(self, file: BinaryIO, start: int):
        super().__init__()
        self._file, self._start = file, start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            offset += self._start
        return self._file.seek(offset, whence) - self._start

    def tell(self) -> int:
        return self._file.tell() - self._start


_ISO_FIRST_BOXES = frozenset({b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
_ISO_BOX_ROLES = {"moov": " (the index of the frames)", "mdat": " (the frames)"}


def _iso_box_overrun(f: BinaryIO, start: int, size: int) -> str | None:
    """Walk the top-level boxes of ISO base media data of ``size`` bytes at ``start`` of ``f``; describe the
    first box that claims more bytes than there are."""
    position, seen = 0, set()
    for _ in range(100_000):
        if position + 8 > size:
            return None
        f.seek(start + position)
        head = f.read(16)
        if len(head) < 8:
            return None
        box_size, kind = struct.unpack(">I4s", head[:8])
        if not seen and kind not in _ISO_FIRST_BOXES:
            return None  # not an mp4/mov file
        if not all(32 <= c < 127 for c in kind):
            return None
        if box_size == 1:  # 64-bit size follows
            if len(head) < 16:
                return None
            box_size = struct.unpack(">Q", head[8:16])[0]
        elif box_size == 0:  # runs to the end
            return None
        if box_size < 8:
            return None
        name = kind.decode("ascii")
        if position + box_size > size:
            detail = (
                f"its '{name}' box{_ISO_BOX_ROLES.get(name, '')} runs to byte {position + box_size} but the data "
                f"ends at byte {size}"
            )
            if name != "moov" and b"moov" not in seen and b"moof" not in seen:
                detail += " and the index of the frames (the 'moov' box, written after the frames) is missing"
            return detail
        seen.add(kind)
        position += box_size
    return None


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line (FFmpeg's log excerpts may hold newlines)."""
    return " ".join(str(exc).split())


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TEXT_AS_VIDEO = frozenset({"tty", "bin", "xbin", "adf", "idf", "ansi", "bintext"})
"""FFmpeg's text-art demuxers/decoders: they render any text file (.txt, .nfo, ...) as "video"."""


def _video_stream(container: av.container.InputContainer, source: _Source):
    name = source.name
    format_names = set(container.format.name.split(",")) if container.format else set()
    codec_names = {s.codec_context.name for s in container.streams.video if s.codec_context}
    if (format_names | codec_names) & _TEXT_AS_VIDEO:
        raise VideoDecodingError(
            f"{name} is not a video: FFmpeg can only read it as text ({container.format.name}). "
            "Pass a video file (mp4, mkv, webm, avi, ...)."
        )
    if not container.streams.video:
        truncation = source.truncation()
        if truncation is not None:
            raise VideoDecodingError(
                f"Video {name} is truncated: {truncation}, so its video stream cannot be read. Re-download or "
                "re-create the file."
            )
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoDecodingError(
            f"{name} has no video stream (streams found: {', '.join(kinds)}); pass a file that contains video."
        )
    # Audio, subtitle, data and extra video streams are left alone: packets are demuxed from this stream only. Cover
    # art (an attached picture) is a video stream too; prefer a real one.
    moving = [s for s in container.streams.video if not _is_attached_picture(s)]
    candidates = moving or list(container.streams.video)
    return max(candidates, key=lambda s: ((s.codec_context.width or 0) * (s.codec_context.height or 0), -s.index))


def _is_attached_picture(stream) -> bool:
    """Whether a video stream is cover art (FFmpeg's `attached_pic` disposition), not the video."""
    flag = getattr(getattr(av.stream, "Disposition", None), "attached_pic", None)
    disposition = getattr(stream, "disposition", None)
    return flag is not None and disposition is not None and bool(disposition & flag)


def _no_frames_error(name: str, detail: str = "") -> VideoDecodingError:
    return VideoDecodingError(
        f"No frame of {name} could be decoded{detail}; the file is probably truncated or corrupt. "
        "Re-download it or re-encode it (e.g. `ffmpeg -i in.mp4 -c:v libx264 out.mp4`), or drop it from the list."
    )


# --------------------------------------------------------------------------------------------- stream index
@dataclass
class _Index:
    """What demuxing (without decoding) tells: frames in presentation order and the keyframe layout."""

    pts: list[int | None] = field(default_factory=list)  # per packet, decode order
    dts: list[int | None] = field(default_factory=list)
    duration: list[int] = field(default_factory=list)
    keyframe: list[bool] = field(default_factory=list)
    frame_pts: list[int] = field(default_factory=list)  # per frame, presentation order
    frame_dpos: list[int] = field(default_factory=list)  # decode position of each frame's packet
    key_dpos: list[int] = field(default_factory=list)  # decode positions of keyframe packets
    dpos_of_pts: dict[int, int] = field(default_factory=dict)
    frame_of_pts: dict[int, int] = field(default_factory=dict)
    timestamps_ok: bool = True

    @property
    def num_frames(self) -> int:
        return len(self.frame_pts) if self.timestamps_ok else len(self.pts)

    def span(self) -> int:
        """Presentation time covered by the frames, in stream time-base ticks (> 0): from the first frame's
        timestamp to the end of the last one, which is shown for the median interval between frames (a
        single frame: its packet's duration, else one tick). Requires ``timestamps_ok``."""
        pts = self.frame_pts
        if len(pts) > 1:
            last = int(np.median(np.diff(np.asarray(pts, dtype=np.int64))))
        else:
            last = self.duration[self.dpos_of_pts[pts[0]]]
        return int(pts[-1] - pts[0] + max(last, 1))


def _probe(container, stream, name: str, source: _Source | None = None) -> _Index:
    index = _Index()
    discard: list[bool] = []
    corrupt: list[bool] = []
    try:  # the container's own index: every sample for mp4/mov, only keyframes (cues) for mkv/webm
        indexed = len(stream.index_entries)
    except (AttributeError, av.error.FFmpegError):
        indexed = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            index.pts.append(packet.pts)
            index.dts.append(packet.dts)
            index.duration.append(int(packet.duration or 0))
            index.keyframe.append(bool(packet.is_keyframe))
            discard.append(bool(packet.is_discard))
            corrupt.append(bool(packet.is_corrupt))
    except av.error.FFmpegError as exc:
        raise VideoDecodingError(
            f"Could not read the video stream of {name} after {len(index.pts)} frames ({type(exc).__name__}: "
            f"{_one_line(exc)}); the file is corrupt or truncated. Re-download or re-encode it."
        ) from exc
    # A cut file's last packet comes out partial; demuxers that notice flag it corrupt (mp4 fragments; matroska
    # drops it). Its frame would be part garbage, so a truncated stream ends at the last complete packet. MPEG-TS
    # does not flag it, but cut data ends inside a fixed-size transport packet.
    if len(corrupt) > 1 and not corrupt[-2] and (corrupt[-1] or _cut_transport_stream(container)):
        for column in (index.pts, index.dts, index.duration, index.keyframe, discard, corrupt):
            column.pop()
    if not index.pts:
        truncation = source.truncation() if source is not None else None
        if truncation is not None:
            raise VideoDecodingError(
                f"Video {name} is truncated: {truncation}, so none of its frames can be read. Re-download or "
                "re-create the file."
            )
        raise _no_frames_error(name, " (its video stream holds no packets)")
    if len(index.pts) < indexed:
        raise VideoDecodingError(
            f"Video {name} is truncated: its index lists {indexed} frames but only {len(index.pts)} are in the "
            "file. Re-download or re-create it."
        )
    kept = [pts for pts, drop in zip(index.pts, discard) if not drop]
    if any(pts is None for pts in kept) or len(set(kept)) != len(kept) or not kept:
        index.timestamps_ok = False
        return index
    for dpos, pts in enumerate(index.pts):
        index.dpos_of_pts[pts] = dpos
    index.frame_pts = sorted(kept)
    index.frame_of_pts = {pts: i for i, pts in enumerate(index.frame_pts)}
    index.frame_dpos = [index.dpos_of_pts[pts] for pts in index.frame_pts]
    index.key_dpos = [dpos for dpos, key in enumerate(index.keyframe) if key]
    if not index.key_dpos or index.key_dpos[0] != 0:
        # Frames before the first flagged keyframe (or all, without keyframe flags) are decoded from the start.
        index.key_dpos.insert(0, 0)
    return index


def _cut_transport_stream(container) -> bool:
    """MPEG-TS data whose size is no whole number of transport packets (188, 192 for m2ts/AVCHD, 204 with FEC
    bytes): the file was cut."""
    try:
        if "mpegts" not in (container.format.name or "").split(","):
            return False
        size = container.size
    except (AttributeError, av.error.FFmpegError):
        return False
    return size > 0 and all(size % packet for packet in (188, 192, 204))


def _seek_point(index: _Index, frame: int) -> int:
    """Decode position of the keyframe to start from for ``frame``: the last keyframe before the frame's packet
    (in decode order) whose own presentation time is not after the frame's (open-GOP leading pictures)."""
    dpos = index.frame_dpos[frame]
    pts = index.frame_pts[frame]
    k = bisect.bisect_right(index.key_dpos, dpos) - 1
    while k > 0 and (index.pts[index.key_dpos[k]] or 0) > pts:
        k -= 1
    return index.key_dpos[max(k, 0)]


@dataclass
class _Run:
    start: int  # decode position of the keyframe to seek to
    frames: list[int]  # presentation indices collected by this run
    end: int  # decode position of the last needed packet


def _plan(index: _Index, frames: Sequence[int]) -> list[_Run]:
    """Group the needed frames into forward-decoding runs, each started by a seek (see the module docstring)."""
    runs: list[_Run] = []
    for frame in sorted(set(frames), key=lambda f: index.frame_dpos[f]):
        dpos = index.frame_dpos[frame]
        start = _seek_point(index, frame)
        if runs:
            run = runs[-1]
            if start <= run.end or dpos - run.end <= _SEEK_COST + (dpos - start):
                run.frames.append(frame)
                run.end = max(run.end, dpos)
                continue
        runs.append(_Run(start=start, frames=[frame], end=dpos))
    return runs


# --------------------------------------------------------------------------------------------- decoding
_thread_state = threading.local()


def _to_rgb(frame: av.VideoFrame, shape: tuple[int, int]) -> np.ndarray:
    """RGB (H, W, 3) uint8 of ``frame``, resized to ``shape`` (non-square pixels, or a stream that changed size).

    One single-threaded reformatter per thread and process: ``frame.to_ndarray`` sets up a new swscale context
    for every frame, and swscale's default thread pool costs more than the conversion of an SD frame; a forked
    child (a DataLoader worker) must not touch its parent's context either.
    """
    cached = getattr(_thread_state, "reformatter", None)
    if cached is None or cached[1] != os.getpid():
        cached = _thread_state.reformatter = (av.video.reformatter.VideoReformatter(), os.getpid())
    reformatter = cached[0]
    if (frame.height, frame.width) != shape:
        rgb = reformatter.reformat(frame, format="rgb24", width=shape[1], height=shape[0], threads=1)
    else:
        rgb = reformatter.reformat(frame, format="rgb24", threads=1)
    return rgb.to_ndarray()


_MAX_SAR = 16
"""Sample aspect ratios beyond [1/16, 16] are taken as broken headers and ignored."""

_DISPLAYMATRIX = av.sidedata.sidedata.Type.DISPLAYMATRIX


@dataclass(frozen=True)
class _Orientation:
    """How a decoded picture is turned to be shown: transpose, then flip rows (upside down), then flip columns
    (mirror). The eight axis-aligned display matrices, i.e. rotations by multiples of 90 degrees with or
    without mirroring."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        if not (self.transpose or self.flip_rows or self.flip_cols):
            return rgb
        if self.transpose:
            rgb = rgb.transpose(1, 0, 2)
        if self.flip_rows:
            rgb = rgb[::-1]
        if self.flip_cols:
            rgb = rgb[:, ::-1]
        return np.ascontiguousarray(rgb)


_UPRIGHT = _Orientation()


def _orientation(frame: av.VideoFrame) -> _Orientation:
    """The display matrix of ``frame`` (FFmpeg ``DISPLAYMATRIX`` side data) as an axis-aligned orientation.

    FFmpeg's matrix ``[a, b, u, c, d, v, x, y, w]`` maps a source pixel ``(p, q)`` (column, row; rows grow
    downwards) to ``(a p + c q + x, b p + d q + y)`` (libavutil/display.h); ``ffmpeg``'s autorotation and
    players show the picture so. Whether the map swaps the axes is decided by the larger of ``|a| + |d|`` and
    ``|b| + |c|`` (non-right angles snap to the nearest multiple of 90 degrees), the signs give the flips.
    """
    side_data = frame.side_data.get(_DISPLAYMATRIX)
    if side_data is None:
        return _UPRIGHT
    matrix = np.frombuffer(bytes(side_data), dtype=np.int32)
    if matrix.size < 9:
        return _UPRIGHT
    a, b, c, d = (int(v) for v in matrix[[0, 1, 3, 4]])
    if abs(a) + abs(d) >= abs(b) + abs(c):
        if a == 0 or d == 0:  # degenerate (zero) matrix: nothing sensible to apply
            return _UPRIGHT
        return _Orientation(transpose=False, flip_rows=d < 0, flip_cols=a < 0)
    # Axes swap: the output row comes from the source column (scaled by b), the output column from the source
    # row (scaled by c).
    return _Orientation(transpose=True, flip_rows=b < 0, flip_cols=c < 0)


def _sample_aspect_ratio(stream) -> float:
    """The stream's sample (pixel) aspect ratio width / height, 1.0 when unknown or implausible."""
    try:
        sar = stream.sample_aspect_ratio
    except (AttributeError, ZeroDivisionError, av.error.FFmpegError):
        return 1.0
    if not sar or sar <= 0:
        return 1.0
    value = float(sar)
    return value if 1 / _MAX_SAR <= value <= _MAX_SAR else 1.0


def _display_shape(height: int, width: int, sar: float) -> tuple[int, int]:
    """Size (H, W) of a picture of coded size ``height`` x ``width`` with sample aspect ratio ``sar`` at square
    pixels, stretching the axis that grows (SAR > 1 widens, SAR < 1 heightens)."""
    if sar > 1:
        width = max(1, round(width * sar))
    elif sar < 1:
        height = max(1, round(height / sar))
    return height, width


class _Decoder:
    """Runs a plan (or the counting fallback) on an open container."""

    def __init__(self, container, stream, index: _Index):
        self.container = container
        self.stream = stream
        self.index = index
        self.shape: tuple[int, int] | None = None  # of the frames returned (as displayed)
        self.sar = _sample_aspect_ratio(stream)
        self.skip_state: str | None = None
        self.can_skip = stream.codec_context.name in _NONREF_SKIP_CODECS

    def _set_skip(self, state: str) -> None:
        if not self.can_skip:
            state = "DEFAULT"
        if state != self.skip_state:
            self.stream.codec_context.skip_frame = state
            self.skip_state = state

    def _decode_packet(self, packet):
        try:
            return self.stream.codec_context.decode(packet)
        except av.error.EOFError:
            return []
        except av.error.FFmpegError:
            # A damaged packet: FFmpeg conceals what it can; frames that never come out are handled by the caller.
            return []

    def _keep(self, frame: av.VideoFrame) -> np.ndarray:
        """The frame as shown: square pixels, display matrix applied, the size of the first kept frame."""
        orientation = _orientation(frame)
        if self.shape is None:
            coded = _display_shape(frame.height, frame.width, self.sar)
        else:
            coded = self.shape[::-1] if orientation.transpose else self.shape
        array = orientation.apply(_to_rgb(frame, coded))
        if self.shape is None:
            self.shape = array.shape[:2]
        return array

    def _seek(self, run: _Run, attempt: int) -> bool:
        """Seek to the run's keyframe; later attempts aim earlier (formats that seek imprecisely)."""
        index = self.index
        if attempt == 0:
            target = index.pts[run.start]
        elif attempt == 1:
            target = index.dts[run.start] if index.dts[run.start] is not None else index.pts[run.start]
        else:
            target = (
                min(
                    (t for t in (index.pts[0], index.dts[0], *index.frame_pts[:1]) if t is not None),
                    default=0,
                )
                - 1
            )
        try:
            self.container.seek(int(target), stream=self.stream, backward=True)
        except av.error.FFmpegError:
            return False
        return True

    def run_indexed(self, runs: list[_Run], wanted: set[int]) -> dict[int, np.ndarray]:
        """Execute the plan; returns {frame index: RGB array} for the frames it got."""
        index = self.index
        wanted_pts = {index.frame_pts[f] for f in wanted}
        out: dict[int, np.ndarray] = {}
        for run in runs:
            pending = {index.frame_pts[f] for f in run.frames if f not in out}
            if not pending:
                continue
            for attempt in range(3):
                if not self._seek(run, attempt):
                    continue
                landed = self._decode_run(run, pending, wanted_pts, out)
                if landed:
                    break
        return out

    def _decode_run(
        self, run: _Run, pending: set[int], wanted_pts: set[int], out: dict[int, np.ndarray]
    ) -> bool:
        """Decode forward after a seek until the run's frames are out. False if the seek landed after the run's
        keyframe (then the caller seeks again, earlier)."""
        index = self.index
        last_pts = max(pending)
        first = True
        for packet in self.container.demux(self.stream):
            if packet.size:
                if first:
                    first = False
                    landed = index.dpos_of_pts.get(packet.pts) if packet.pts is not None else None
                    if landed is None or landed > run.start:
                        return False
                self._set_skip("DEFAULT" if packet.pts in wanted_pts else "NONREF")
            else:
                self._set_skip("DEFAULT")
            for frame in self._decode_packet(packet):
                pts = frame.pts
                if pts in pending:
                    out[index.frame_of_pts[pts]] = self._keep(frame)
                    pending.discard(pts)
                elif pts in wanted_pts:
                    f = index.frame_of_pts[pts]
                    if f not in out:
                        out[f] = self._keep(frame)
                if not pending or (pts is not None and pts > last_pts):
                    return True
        return not first

    def run_counted(self, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
        """One pass from the start, numbering frames in output order. Returns (kept frames, frames decoded)."""
        out: dict[int, np.ndarray] = {}
        count = 0
        last_frame = None
        stop = max(wanted) if wanted else -1
        self._set_skip("DEFAULT")
        for packet in self.container.demux(self.stream):
            for frame in self._decode_packet(packet):
                if count in wanted:
                    out[count] = self._keep(frame)
                last_frame = frame
                count += 1
            if count > stop:
                break
        if last_frame is not None and count <= stop:
            # Fewer frames than the demuxer announced: the missing ones become the last frame that decoded.
            tail = self._keep(last_frame)
            for f in wanted:
                if f >= count:
                    out[f] = tail
        return out, count


def _configure_threads(stream, runs: list[_Run] | None) -> None:
    """Frame threading for long forward runs (``runs=None``: one pass over the whole file), when cores are idle.

    Not inside ``torch.utils.data.DataLoader`` workers (one thread each: `_one_thread`), nor when the load average
    says the cores are busy: there decoder threads only compete with the other work (measured: 20-30 % slower
    than one thread on a loaded 2-core machine).
    """
    if torch.utils.data.get_worker_info() is not None:
        return _one_thread(stream)
    if runs is not None:
        decoded = sum(r.end - r.start + 1 for r in runs)
        if decoded / max(len(runs), 1) < _MIN_THREADED_RUN:
            return
    try:
        busy = os.getloadavg()[0] >= usable_cores() - 0.5
    except OSError:
        busy = False
    if not busy:
        stream.thread_type = "AUTO"


def _one_thread(stream) -> None:
    """Decode on this thread only (DataLoader workers). FFmpeg's default (slice threads, one per core) would start a
    thread per core in every worker: N workers x N threads on N cores (measured on 2 cores, 8-frame clips of a
    320x240 H.264 file: 2 workers 59 clips/s with it, 67 without; 0 workers, slice-threaded, 62)."""
    stream.codec_context.thread_count = 1


def _uniformly_spaced(frame_pts: Sequence[int]) -> bool:
    """Whether the frames are evenly spaced in time up to timestamp rounding (constant frame rate): intervals
    within one tick of each other (none when an interval is a single tick), or 1/64 of an interval."""
    if len(frame_pts) < 3:
        return True
    diffs = np.diff(np.asarray(frame_pts, dtype=np.int64))
    shortest, longest = int(diffs.min()), int(diffs.max())
    tolerance = 0 if shortest < 2 else max(1, shortest // 64)
    return longest - shortest <= tolerance


def _sample_frames(
    index: _Index, num_frames: int, num_clips: int, train: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Presentation indices of the sampled frames, ``(num_clips, num_frames)``.

    The segments of ``segment_frame_indices`` are laid over presentation time (``_Index.span`` ticks from the
    first frame) and each position takes the frame shown at that time: the last one whose timestamp is not
    after it. Evenly spaced frames (constant frame rate) and streams without usable timestamps are sampled by
    frame order, which is the same for exact timestamps and keeps results independent of timestamp rounding.
    """
    count = index.num_frames
    if not index.timestamps_ok or _uniformly_spaced(index.frame_pts):
        return segment_frame_indices(count, num_frames, num_clips=num_clips, train=train, generator=generator)
    times = torch.tensor(index.frame_pts, dtype=torch.int64)
    times -= times[0].clone()
    positions = segment_frame_indices(
        index.span(), num_frames, num_clips=num_clips, train=train, generator=generator
    )
    return (torch.searchsorted(times, positions, right=True) - 1).clamp_(0, count - 1)


def _decode_frames(source: _Source, choose, info: dict | None = None
                   ) -> tuple[dict[int, np.ndarray], list[int] | torch.Tensor]:
    """Open ``source``, pick frames with ``choose(index: _Index) -> indices tensor`` and decode them; ``info``, when
    given, receives the stream's ``total_num_frames``, ``fps`` and ``duration`` (seconds; None where unknown)."""
    container = source.open()
    try:
        stream = _video_stream(container, source)
        index = _probe(container, stream, source.name, source)
        if info is not None:
            info.update(_stream_info(stream, index))
        indices = choose(index)
        wanted = set(indices.flatten().tolist())
        out: dict[int, np.ndarray] = {}
        if index.timestamps_ok:
            runs = _plan(index, sorted(wanted))
            _configure_threads(stream, runs)
            decoder = _Decoder(container, stream, index)
            out = decoder.run_indexed(runs, wanted)
        if len(out) < len(wanted):
            container.close()
            container = source.open()
            stream = _video_stream(container, source)
            _configure_threads(stream, None)
            decoder = _Decoder(container, stream, index)
            out, count = decoder.run_counted(wanted)
            if count == 0:
                raise _no_frames_error(source.name)
        return out, indices
    except VideoDecodingError:
        raise
    except (av.error.FFmpegError, OSError, MemoryError) as exc:
        raise VideoDecodingError(
            f"Decoding {source.name} failed ({type(exc).__name__}: {_one_line(exc)}); the file is probably "
            "corrupt or truncated. Re-download or re-encode it."
        ) from exc
    finally:
        container.close()


def _stream_info(stream, index: _Index) -> dict[str, Any]:
    """Frame count, frame rate and duration (seconds) of a probed stream; None where the file does not tell."""
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else None
    duration = None
    if index.timestamps_ok and stream.time_base:
        duration = float(index.span() * stream.time_base)
    elif fps:
        duration = index.num_frames / fps
    return {"total_num_frames": index.num_frames, "fps": fps, "duration": duration}


# --------------------------------------------------------------------------------------------- public API
def _is_decoded_frames(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor)) or (
        isinstance(x, (list, tuple))
        and len(x) > 0
        and not isinstance(x[0], (int, float, str, bytes, bytearray, os.PathLike))
    )


def decode_video(
    source: VideoSource,
    num_frames: int,
    *,
    num_clips: int = 1,
    train: bool = False,
    generator: torch.Generator | None = None,
    return_metadata: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, Any]]:
    """Decode ``num_clips`` clips of ``num_frames`` frames, sampled with ``segment_frame_indices``.

    The segments cover the video's presentation time and each sampled frame is the one shown at its position
    (the same as segments over the frame count at constant frame rate; see the module docstring). Frames come
    out as players show them: display-matrix rotation/mirroring applied, non-square pixels stretched.

    Args:
        source: a path (str or os.PathLike), the file's bytes, a binary file object (read from its current
            position), or a ``datasets.Video(decode=False)`` value ``{"path": ..., "bytes": ...}`` (its bytes
            when present, else its path). Already decoded frames (numpy array / tensor, see
            ``as_video_tensor``) are sampled over their count.
        num_frames: frames per clip.
        num_clips: clips per video (test-time: evenly spread offsets inside each segment).
        train: random offset inside each segment (training sampling).
        generator: random source for ``train=True``.
        return_metadata: also return the video's metadata, a dict with ``total_num_frames``, ``fps`` and
            ``duration`` (seconds; None where unknown, e.g. for decoded frames), ``height``, ``width`` (of the
            returned frames) and ``frames_indices`` (the sampled frames, ``(num_clips, num_frames)`` as lists).

    Returns:
        uint8 tensor ``(num_clips, num_frames, H, W, 3)``, RGB, at the display size (H and W of the coded
        picture swapped for 90/270 degree rotations, one of them stretched for non-square pixels); with
        ``return_metadata``, the pair (frames, metadata).

    Raises:
        VideoDecodingError: the input is missing, empty, not a video, has no video stream, or cannot be decoded.
    """

    info: dict[str, Any] = {}
    if _is_decoded_frames(source):
        frames = as_video_tensor(source)
        indices = segment_frame_indices(
            frames.shape[0], num_frames, num_clips=num_clips, train=train, generator=generator
        )
        info.update(total_num_frames=int(frames.shape[0]), fps=None, duration=None)
        clips = frames[indices]
    else:
        def choose(index: _Index) -> torch.Tensor:
            return _sample_frames(index, num_frames, num_clips, train, generator)

        frames_by_index, indices = _decode_frames(_Source(source), choose, info)
        stacked = np.stack([frames_by_index[i] for i in indices.flatten().tolist()])
        clips = torch.from_numpy(stacked).reshape(num_clips, num_frames, *stacked.shape[1:])
    if not return_metadata:
        return clips
    info.update(height=int(clips.shape[-3]), width=int(clips.shape[-2]), frames_indices=indices.tolist())
    return clips, info


def count_frames(source: VideoSource) -> int:
    """Number of frames of the video's first video stream.

    Uses the container's frame count when its index lists every frame and the file holds them all (mp4),
    else demuxes the stream without decoding (webm/mkv store no count). Raises ``VideoDecodingError`` like
    ``decode_video`` (also for truncated files).
    """
    if _is_decoded_frames(source):
        return int(as_video_tensor(source).shape[0])
    src = _Source(source)
    container = src.open()
    try:
        stream = _video_stream(container, src)
        if stream.frames and stream.frames > 0 and _index_is_complete(container, stream):
            return int(stream.frames)
        return _probe(container, stream, src.name, src).num_frames
    except VideoDecodingError:
        raise
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoDecodingError(
            f"Reading {src.name} failed ({type(exc).__name__}: {_one_line(exc)}); the file is probably corrupt."
        ) from exc
    finally:
        container.close()


def _index_is_complete(container, stream) -> bool:
    """Whether the container index lists all ``stream.frames`` frames and they lie inside the file."""
    try:
        entries = stream.index_entries
        count = len(entries)
        size = container.size
        if count != stream.frames or count == 0 or size <= 0:
            return False
        return max(entries[i].pos + entries[i].size for i in range(max(0, count - 32), count)) <= size
    except (AttributeError, TypeError, av.error.FFmpegError):
        return False


_EXPECTED_LAYOUTS = "(T, H, W, 3) (channels last, as decoded) or (T, 3, H, W) (channels first)"


def as_video_tensor(x: Any) -> torch.Tensor:
    """Already decoded frames as a uint8 ``(T, H, W, 3)`` tensor.

    Accepts a numpy array or torch tensor of shape ``(T, H, W, 3)`` or ``(T, 3, H, W)`` (channels last wins
    when both fit), or a list of ``(H, W, 3)`` frames / PIL images. uint8 is kept; floating point is read as
    [0, 1] when its maximum is <= 1 and as [0, 255] otherwise, then rounded and clamped; other integer types
    must hold 0..255.
    """
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError("Decoded video is an empty list: pass at least one frame.")
        x = np.stack([np.asarray(f.convert("RGB")) if hasattr(f, "convert") else _to_numpy(f) for f in x])
    if isinstance(x, np.ndarray):
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise ValueError(f"Decoded video array has dtype {x.dtype}; expected uint8 or float frames.")
        tensor = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, torch.Tensor):
        tensor = x.detach().cpu()
    else:
        raise TypeError(
            f"as_video_tensor expects a numpy array or torch tensor of decoded frames {_EXPECTED_LAYOUTS}, "
            f"got {type(x).__name__}."
        )
    shape = tuple(tensor.shape)
    if tensor.ndim != 4 or (shape[-1] != 3 and shape[1] != 3) or min(shape) == 0:
        hint = " For a single image add a time axis: x[None]." if tensor.ndim == 3 else ""
        raise ValueError(f"Decoded video has shape {shape}; expected {_EXPECTED_LAYOUTS}.{hint}")
    if shape[-1] != 3:
        tensor = tensor.permute(0, 2, 3, 1)
    if tensor.dtype == torch.uint8:
        return tensor.contiguous()
    if tensor.is_floating_point():
        tensor = tensor.float()
        if tensor.numel() and float(tensor.max()) <= 1.0:
            tensor = tensor * 255.0
        return tensor.round().clamp_(0, 255).to(torch.uint8).contiguous()
    if tensor.dtype == torch.bool:
        return (tensor.to(torch.uint8) * 255).contiguous()
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) > 255):
        raise ValueError(
            f"Decoded video of dtype {tensor.dtype} has values outside 0..255 "
            f"(min {int(tensor.min())}, max {int(tensor.max())}); pass uint8 or float frames."
        )
    return tensor.to(torch.uint8).contiguous()


def _to_numpy(frame: Any) -> np.ndarray:
    if isinstance(frame, torch.Tensor):
        return frame.detach().cpu().numpy()
    return np.asarray(frame)


def video_to_tensor(video: Any, num_frames: int | None = None) -> torch.Tensor:
    """Any supported video input as uint8 ``(T, H, W, 3)``.

    Decoded frames go through ``as_video_tensor``; paths, bytes and file objects are decoded. With
    ``num_frames`` one test-time clip of that many frames is sampled (``segment_frame_indices``); without it
    every frame is returned.
    """
    if _is_decoded_frames(video):
        frames = as_video_tensor(video)
        if num_frames is None:
            return frames
        return frames[segment_frame_indices(frames.shape[0], num_frames)[0]]
    if num_frames is not None:
        return decode_video(video, num_frames)[0]
    source = _Source(video)
    out, indices = _decode_frames(source, lambda index: torch.arange(index.num_frames))
    kept = [out[i] for i in sorted(out)]
    return torch.from_numpy(np.stack(kept))
