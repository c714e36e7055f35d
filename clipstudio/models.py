"""Frozen result types. Units are in the names (``start_s``, ``duration_s``) on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field

OUTCOMES = ("won", "lost", "open", "unknown")


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech by one speaker; the unit search, clips and stats work on."""

    id: int | None
    index: int
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]
    speaker: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class CallMeta:
    """What a trainer knows about a call besides its audio. Every field is editable later."""

    title: str
    rep: str | None = None
    account: str | None = None
    call_date: str | None = None  # ISO YYYY-MM-DD
    outcome: str = "unknown"
    consent: bool | None = None  # recording consent given; None when nobody said
    a_player: bool | None = None  # sets the rep's A-player flag when not None


@dataclass(frozen=True)
class Call:
    id: int
    title: str
    rep: str | None
    account: str | None
    call_date: str | None
    outcome: str
    consent: bool | None
    a_player: bool
    duration_s: float
    channels: int
    status: str
    source_name: str
    media_path: str  # absolute path of the kept original
    playback_path: str  # absolute path of the browser-seekable copy
    model: str
    created_at: str
    diarization: str | None = None
    sha256: str = field(repr=False, default="")


@dataclass(frozen=True)
class CallSpeaker:
    """A voice in one call, as stored: renamed, given a role, merged by trainers."""

    id: int
    call_id: int
    label: str
    name: str | None
    role: str | None
    channel: int | None
    display: str  # what to show: the name, else the role, else "Speaker N"
    talk_s: float


@dataclass(frozen=True)
class Transcript:
    call: Call
    utterances: tuple[Utterance, ...]
    speakers: tuple[CallSpeaker, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.utterances)


@dataclass(frozen=True)
class IngestedFile:
    call_id: int
    path: str
    duration_s: float


@dataclass(frozen=True)
class SkippedFile:
    path: str
    call_id: int
    reason: str


@dataclass(frozen=True)
class FailedFile:
    path: str
    error: str


@dataclass(frozen=True)
class IngestReport:
    ingested: tuple[IngestedFile, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    failed: tuple[FailedFile, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return {
            "ingested": [
                {"call_id": f.call_id, "path": f.path, "duration_s": round(f.duration_s, 3)}
                for f in self.ingested
            ],
            "skipped": [
                {"path": f.path, "call_id": f.call_id, "reason": f.reason} for f in self.skipped
            ],
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
        }


@dataclass(frozen=True)
class Progress:
    """One progress report: ``file_fraction`` of the current file, ``done`` files of ``total``."""

    path: str
    file_fraction: float
    done: int
    total: int
    stage: str


RATINGS = ("good", "poor", "neutral")
CLIP_FORMATS = ("mp3", "m4a", "opus", "wav")


@dataclass(frozen=True)
class ClipWord:
    """A word of a clip. ``index`` is the word's number in the call's transcript (what
    redaction ranges refer to); times are relative to the clip's start."""

    index: int
    text: str
    start_s: float
    end_s: float
    speaker: str | None
    role: str | None
    redacted: bool = False


@dataclass(frozen=True)
class ClipLine:
    """Consecutive words of one speaker inside a clip; redacted words read ``[redacted]``."""

    speaker: str | None
    role: str | None
    start_s: float
    end_s: float
    text: str
    words: tuple[ClipWord, ...]


@dataclass(frozen=True)
class ClipSpeaker:
    name: str
    role: str | None


@dataclass(frozen=True)
class Clip:
    """A moment cut from a call: a normalised audio file plus what trainers know about it."""

    id: int
    call_id: int
    call_title: str
    title: str
    start_s: float  # in the call's time, after snapping to words and padding
    end_s: float
    format: str
    stereo: bool
    path: str  # absolute path of the clip file
    rating: str
    notes: str
    skills: tuple[str, ...]
    messages: tuple[str, ...]
    speakers: tuple[ClipSpeaker, ...]
    rep: str | None
    a_player: bool  # the rep's profile says A-player (read live, not copied)
    redactions: tuple[tuple[int, int], ...]  # call word index ranges, inclusive
    first_word: int
    last_word: int
    created_at: str
    updated_at: str

    @property
    def duration_s(self) -> float:
        return round(self.end_s - self.start_s, 3)


@dataclass(frozen=True)
class Tag:
    """A skill or message in the library's taxonomy."""

    id: int
    kind: str  # skill or message
    name: str
    description: str
    clips: int  # how many clips carry it
