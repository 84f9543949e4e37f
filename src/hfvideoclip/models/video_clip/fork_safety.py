"""Forked workers never free the FFmpeg objects they inherit (no DataLoader worker hangs in their garbage collector).

FFmpeg's threaded objects (frame- or slice-threaded decoders, as `video_decoding` opens long runs in the main
process; threaded swscale contexts, PyAV's default for encoders and `to_ndarray`) join their threads when freed. A
forked child holds none of its parent's threads, so freeing such an object there waits forever. That happens when
the parent holds one in cyclic garbage at the fork (kept by an exception's traceback: `pytest.raises`, a
notebook's error history, an error list holding tracebacks) and the child's garbage collector runs: a
`torch.utils.data.DataLoader` worker hangs in `avpriv_slicethread_free` or `ff_frame_thread_free`, and the loader
times out (or, without a timeout, never returns).

The fix: a child freezes (`gc.freeze`) everything it inherited as soon as it is forked, so its collector never
visits those objects; the parent's heap is not touched (its garbage is collected as before, its own frozen set, if
any, stays as it is). Automatic collection is off from just before the fork until the child has frozen, so no
collection can run in that window (other fork hooks allocate). This is CPython's documented pattern for fork without
exec, and it costs nothing (list splices); it also keeps the child's collector from touching, hence copying, the
pages it shares with the parent. Cyclic garbage inherited by a child stays there unreclaimed (shared with the
parent) until the child exits.

Registered once, on import of `video_decoding` (the module that turns FFmpeg threads on).
"""

from __future__ import annotations

import gc
import os
import threading

_state = threading.local()  # per forking thread: whether automatic collection was on before the fork
_installed = False


def _pause_collection() -> None:
    _state.was_enabled = gc.isenabled()
    gc.disable()


def _resume_in_parent() -> None:
    if getattr(_state, "was_enabled", False):
        gc.enable()


def _freeze_inherited_in_child() -> None:
    gc.freeze()
    if getattr(_state, "was_enabled", False):
        gc.enable()


def install_fork_guard() -> None:
    """Register the fork hooks (idempotent; a no-op where `os.register_at_fork` does not exist, e.g. Windows)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(before=_pause_collection, after_in_parent=_resume_in_parent,
                        after_in_child=_freeze_inherited_in_child)
    _installed = True
