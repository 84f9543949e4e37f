"""Forked workers never free the FFmpeg objects they inherit (no DataLoader worker hangs in their garbage collector).

FFmpeg's threaded objects (frame- or slice-threaded decoders, as `video_decoding` opens long runs in the main
process; threaded swscale contexts, PyAV's default for encoders and `to_ndarray`) join their threads when freed. A
forked child holds none of its parent's threads, so freeing such an object there waits forever. That happens when
the parent holds one in cyclic garbage at the fork (kept by an exception's traceback: `pytest.raises`, a
notebook's error history, an error list holding tracebacks) and the child's garbage collector runs: a
`torch.utils.data.DataLoader` worker hangs in `avpriv_slicethread_free` or `ff_frame_thread_free`, and the loader
times out (or, without a timeout, never returns).

The fix is CPython's documented pattern for fork without exec: the objects alive at a fork are frozen
(`gc.freeze`) just before it, so the child's collector never visits them, and the parent unfreezes them right
after (costs nothing: both are list splices); the parent's garbage is collected as before, and the child never
touches (nor copies) the pages of what it inherited. Cyclic garbage inherited by a child stays there unreclaimed
(shared with the parent) until the child exits. A process that froze objects itself (`gc.get_freeze_count() > 0`)
keeps its own frozen set: there the parent collects its garbage before the fork instead (a full collection, about
0.15 s with transformers loaded), since unfreezing after the fork would also unfreeze the objects it froze.

Registered once, on import of `video_decoding` (the module that turns FFmpeg threads on).
"""

from __future__ import annotations

import gc
import os
import threading

_state = threading.local()  # per forking thread: whether this fork froze the heap (and the parent must unfreeze)
_installed = False


def _freeze_before_fork() -> None:
    _state.froze = gc.get_freeze_count() == 0
    if _state.froze:
        gc.freeze()
    else:
        gc.collect()


def _unfreeze_in_parent() -> None:
    if getattr(_state, "froze", False):
        _state.froze = False
        gc.unfreeze()


def _forget_in_child() -> None:
    _state.froze = False  # the child keeps what it inherited frozen


def install_fork_guard() -> None:
    """Register the fork hooks (idempotent; a no-op where `os.register_at_fork` does not exist, e.g. Windows)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(before=_freeze_before_fork, after_in_parent=_unfreeze_in_parent,
                        after_in_child=_forget_in_child)
    _installed = True
