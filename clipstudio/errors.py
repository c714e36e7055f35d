"""Named exceptions. Each carries the detail a user needs to act on it.

Every error the core raises on purpose is a :class:`ClipStudioError`, so the CLI and the
app can show its message as one clear line and keep going with the rest of a batch.
"""

from __future__ import annotations


class ClipStudioError(Exception):
    """Base class for every error ClipStudio raises on purpose."""


class InputError(ClipStudioError):
    """A file or value the user gave cannot be used (bad manifest row, unknown outcome...)."""


class MediaError(ClipStudioError):
    """A recording cannot be read or converted.

    ``stderr_tail`` keeps the last lines ffmpeg printed, because that is usually the only
    place that says what is wrong with the file.
    """

    def __init__(self, message: str, *, path: str | None = None, stderr_tail: str = "") -> None:
        self.path = path
        self.stderr_tail = stderr_tail.strip()
        full = message
        if self.stderr_tail:
            full = f"{message} (ffmpeg: {self.stderr_tail.splitlines()[-1]})"
        super().__init__(full)


class NoSpeechError(MediaError):
    """The recording decodes but holds nothing to transcribe (silence, or no words found)."""


class ModelError(ClipStudioError):
    """The speech-to-text model cannot be loaded (unknown name, missing folder, no GPU...)."""


class NotFoundError(ClipStudioError):
    """A call (or other record) the user asked for does not exist in this library."""
