"""ClipStudio: a self-hosted call library for sales enablement.

The core never imports Streamlit; ``Home.py`` and ``pages/`` are a view over it.
"""

import os

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

from .errors import (  # noqa: E402
    ClipStudioError,
    InputError,
    MediaError,
    ModelError,
    NoSpeechError,
    NotFoundError,
)
from .library import Library  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "ClipStudioError",
    "InputError",
    "Library",
    "MediaError",
    "ModelError",
    "NoSpeechError",
    "NotFoundError",
]
