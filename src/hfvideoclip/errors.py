"""Exceptions raised for bad user input. Each message names the input and the fix."""

from __future__ import annotations


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
