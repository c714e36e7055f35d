"""Ingest: recordings in, transcribed calls out, one file at a time, all or nothing per file.

A call becomes visible only when its transaction commits. Files are written under
temporary names and renamed into place inside that transaction, so a crash (even
``kill -9``) leaves either a whole call or nothing that a rerun will not overwrite:
media file names are derived from the content hash, and the hash is also what
deduplicates a rerun.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ClipStudioError, InputError, MediaError, ModelError, NoSpeechError
from .media import MediaInfo, Pcm, PlaybackCopy, decode_pcm, probe
from .metadata import load_manifest, meta_for
from .models import (
    CallMeta,
    FailedFile,
    IngestedFile,
    IngestReport,
    Progress,
    SkippedFile,
    Utterance,
)
from .speakers import (
    UTTERANCE_GAP_S,
    Attribution,
    DiarizationError,
    Speaker,
    attribute_words,
    embedded_turns,
    guess_rep,
    is_fake_stereo,
    match_voiceprint,
    pyannote_available,
    pyannote_turns,
    renumber,
    split_at_pauses,
    stereo_gains,
    word_is_own,
)
from .transcribe import DEFAULT_CHUNK_S, Transcriber
from .transcripts import parse_transcript

if TYPE_CHECKING:
    from .library import Library

AUDIO_EXTENSIONS = frozenset(
    ".wav .mp3 .m4a .aac .flac .ogg .oga .opus .webm .mp4 .mov .mkv .m4v".split()
)
SILENCE_PEAK = 10 ** (-50 / 20)  # a recording whose loudest sample is below -50 dBFS is silent
ORPHAN_MIN_AGE_S = 60.0

ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class IngestOptions:
    model: str | None = None
    device: str = "auto"
    chunk_s: float = DEFAULT_CHUNK_S
    diarization: str = "auto"
    num_speakers: int | None = None
    transcript: Path | None = None  # use this transcript instead of speech-to-text


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FailedFile]]:
    """Expand files and folders (recursively) into recordings, in a stable order.

    Files inside folders are picked by extension; a file named directly with an
    extension we do not read is reported, not silently dropped.
    """
    found: list[Path] = []
    failed: list[FailedFile] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.append(p)

    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            try:
                children = sorted(c for c in p.rglob("*") if c.is_file())
            except OSError as exc:
                failed.append(FailedFile(str(p), f"folder cannot be read: {exc.strerror}"))
                continue
            for child in children:
                if child.suffix.lower() in AUDIO_EXTENSIONS and not child.name.startswith("."):
                    add(child)
        elif p.is_file():
            if p.suffix.lower() in AUDIO_EXTENSIONS:
                add(p)
            else:
                failed.append(FailedFile(
                    str(p), f"not a supported recording type ({p.suffix or 'no extension'}); "
                    f"supported: {', '.join(sorted(AUDIO_EXTENSIONS))}"))
        elif p.is_symlink():
            failed.append(FailedFile(str(p), "broken link: its target does not exist"))
        else:
            failed.append(FailedFile(str(p), "path does not exist"))
    return found, failed


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise MediaError(f"file cannot be read: {exc.strerror}", path=str(path)) from exc
    return h.hexdigest()


def ingest_paths(
    library: Library,
    paths: Iterable[str | Path],
    *,
    manifest: Path | None = None,
    options: IngestOptions = IngestOptions(),
    on_progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest every recording under ``paths``; one bad file never stops the batch."""
    entries = load_manifest(manifest) if manifest else None
    files, failed = discover(paths)
    imported = None
    if options.transcript is not None:
        if len(files) + len(failed) != 1:
            raise InputError("--transcript goes with exactly one recording")
        imported = parse_transcript(options.transcript, merge_gap_s=IMPORT_MERGE_GAP_S)
    ingested: list[IngestedFile] = []
    skipped: list[SkippedFile] = []
    library.remove_orphan_media(min_age_s=ORPHAN_MIN_AGE_S)
    transcriber: Transcriber | None = None

    for done, path in enumerate(files):
        def report(fraction: float, stage: str, _path: Path = path, _done: int = done) -> None:
            if on_progress:
                on_progress(Progress(str(_path), fraction, _done, len(files), stage))

        report(0.0, "hashing")
        try:
            sha = file_sha256(path)
            existing = library.call_id_for_hash(sha)
            if existing is not None:
                skipped.append(SkippedFile(str(path), existing, "already in library"))
                continue
            if transcriber is None and imported is None:
                report(0.0, "loading model")
                transcriber = Transcriber(options.model, options.device, chunk_s=options.chunk_s)
            result = _ingest_one(
                library, path, sha, meta_for(path, entries), transcriber, imported, options,
                report,
            )
            (skipped if isinstance(result, SkippedFile) else ingested).append(result)
        except ModelError:
            raise  # not the file's fault: stop the batch with the model's reason
        except ClipStudioError as exc:
            failed.append(FailedFile(str(path), str(exc)))
        finally:
            report(1.0, "done")
    return IngestReport(tuple(ingested), tuple(skipped), tuple(failed))


_KNOWN_FFMPEG = (
    ("moov atom not found", "file is truncated or incomplete (its index is missing)"),
    ("Invalid data found", "not a readable audio or video file"),
)


def _ingest_one(
    library: Library,
    path: Path,
    sha: str,
    meta: CallMeta,
    transcriber: Transcriber | None,
    imported: list[Utterance] | None,
    options: IngestOptions,
    report: Callable[[float, str], None],
) -> IngestedFile | SkippedFile:
    info = _probe(path)
    media_dir = library.media_dir
    original = media_dir / f"{sha[:16]}{path.suffix.lower()}"
    playback = media_dir / f"{sha[:16]}.playback.mp3"
    pid = os.getpid()
    tmp_original = media_dir / f".tmp-{pid}-{sha[:16]}{path.suffix.lower()}"
    tmp_playback = media_dir / f".tmp-{pid}-{sha[:16]}.playback.mp3"
    channels = 2 if info.channels >= 2 else 1
    try:
        shutil.copyfile(path, tmp_original)
        with tempfile.TemporaryDirectory(prefix=f".tmp-{pid}-work-", dir=media_dir) as work:
            copy = PlaybackCopy(path, tmp_playback, channels=channels)
            try:
                report(0.01, "decoding")
                pcm = decode_pcm(path, Path(work) / "pcm.raw", channels=channels)
                _check_audio(path, info, pcm)
                if imported is not None:
                    attribution = imported_attribution(imported, pcm.duration_s, meta,
                                                       options.transcript)
                else:
                    attribution = attribute(
                        pcm, transcriber, library, meta, options,
                        lambda f: report(0.02 + 0.96 * f, "transcribing"),
                    )
                del pcm  # release the memory map before the folder goes
                copy.wait()
            except BaseException:
                copy.cancel()
                raise
        report(0.99, "saving")
        try:
            call_id = library.insert_call(
                sha=sha,
                meta=meta,
                info=info,
                duration_s=attribution.duration_s,
                source=path,
                model=transcriber.model_name if transcriber else "imported transcript",
                attribution=attribution,
                files=[(tmp_original, original), (tmp_playback, playback)],
            )
        except sqlite3.IntegrityError:
            # Another writer committed the same recording while we transcribed it.
            existing = library.call_id_for_hash(sha)
            return SkippedFile(str(path), existing or 0, "already in library")
    finally:
        tmp_original.unlink(missing_ok=True)
        tmp_playback.unlink(missing_ok=True)
    return IngestedFile(call_id, str(path), attribution.duration_s)


def _probe(path: Path) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        for needle, plain in _KNOWN_FFMPEG:
            if needle in exc.stderr_tail:
                raise MediaError(plain, path=str(path)) from exc
        raise


def _check_audio(path: Path, info: MediaInfo, pcm: Pcm) -> None:
    decoded_s = pcm.duration_s
    if decoded_s < 0.05:
        raise MediaError("no audio could be decoded from the file", path=str(path))
    declared = info.duration_s
    if declared and decoded_s < declared - max(2.0, 0.05 * declared):
        raise MediaError(
            f"file is truncated: it declares {declared:.1f} s but only {decoded_s:.1f} s "
            "of audio could be decoded",
            path=str(path),
        )
    peak = pcm.peak()
    if peak < SILENCE_PEAK:
        level = "-inf" if peak == 0 else f"{20 * np.log10(peak):.0f}"
        raise NoSpeechError(f"recording is silent (loudest sample {level} dBFS)", path=str(path))


@dataclass(frozen=True)
class CallAttribution(Attribution):
    duration_s: float = 0.0


def attribute(
    pcm: Pcm,
    transcriber: Transcriber,
    library: Library,
    meta: CallMeta,
    options: IngestOptions,
    on_progress: Callable[[float], None],
) -> CallAttribution:
    """Transcribe the call and say who spoke each word (see clipstudio.speakers)."""
    hotwords = ", ".join(library.vocabulary())
    method = options.diarization
    two_channels = pcm.channels == 2 and not is_fake_stereo(pcm)
    if method == "stereo" and not two_channels:
        raise DiarizationError(
            "--diarization stereo needs a two-channel recording with a party on each channel"
            + (" (both channels carry the same audio)" if pcm.channels == 2 else ""))
    if method == "auto":
        method = ("stereo" if two_channels
                  else "pyannote" if pyannote_available() else "embedded")
    total_s = pcm.duration_s
    speakers: list[Speaker] = []
    if method == "stereo":
        gains = stereo_gains(pcm)
        roles = library.channel_roles()
        utterances: list[Utterance] = []
        for c in range(2):
            found = transcriber.transcribe(
                pcm.blocks(channel=c, gain=gains[c]), total_s=total_s, hotwords=hotwords,
                on_progress=lambda f, c=c: on_progress((c + f) / 2 * 0.97))
            label = f"ch{c + 1}"
            own = [
                Utterance(None, 0, u.start_s, u.end_s, u.text, kept, speaker=label)
                for u in found
                if (kept := tuple(w for w in u.words if word_is_own(w, gains[c])))
            ]
            utterances += split_at_pauses(own, UTTERANCE_GAP_S)
            speakers.append(Speaker(label, role=roles[c], channel=c))
        result = renumber(utterances)
        speakers = [replace(s, embedding=_centroid(pcm, result, s)) for s in speakers]
    else:
        found = transcriber.transcribe(
            pcm.blocks(), total_s=total_s, hotwords=hotwords,
            on_progress=lambda f: on_progress(f * 0.9))
        if not found:
            raise NoSpeechError("no speech found in the recording", path=str(pcm.path))
        if method == "none":
            return CallAttribution("none", renumber(found), (), duration_s=total_s)
        words = [w for u in found for w in u.words]
        if method == "embedded":
            turns, centroids = embedded_turns(pcm, words, options.num_speakers)
        else:
            turns = pyannote_turns(pcm, options.num_speakers)
            centroids = {}
        result = attribute_words(found, turns)
        labels = list(dict.fromkeys(u.speaker for u in result if u.speaker))
        speakers = [Speaker(label, embedding=centroids.get(label)) for label in labels]
        if method == "pyannote":
            speakers = [replace(s, embedding=_centroid(pcm, result, s)) for s in speakers]
        speakers = assign_roles(result, speakers, meta.rep, library.voiceprints())
    if not any(u.words for u in result):
        raise NoSpeechError("no speech found in the recording", path=str(pcm.path))
    on_progress(1.0)
    speakers = [replace(s, name=meta.rep) if s.role == "rep" and not s.name and meta.rep else s
                for s in speakers]
    return CallAttribution(method, result, tuple(speakers), duration_s=total_s)


IMPORT_MERGE_GAP_S = 1.0  # join a speaker's cues closer than this (Teams splits sentences)


def imported_attribution(
    utterances: list[Utterance], duration_s: float, meta: CallMeta, source: Path | None
) -> CallAttribution:
    """Speakers from a transcript the user brought: the names it gives, roles we infer.

    A ClipStudio JSON export keeps its roles; otherwise the speaker named like the call's
    rep is the rep, or ``guess_rep`` picks one, and the others are customers.
    """
    end = max(u.end_s for u in utterances)
    if end > duration_s + 2.0:
        raise InputError(f"{source}: the transcript runs to {end:.1f} s but the recording is "
                         f"only {duration_s:.1f} s long (is it the right file?)")
    labels = list(dict.fromkeys(u.speaker for u in utterances if u.speaker))
    given = {u.speaker: u.role for u in utterances if u.speaker and u.role}
    rep_label = next((label for label in labels
                      if meta.rep and label.lower() == meta.rep.lower()), None)
    if rep_label is None and not given:
        rep_label = guess_rep(utterances, meta.rep)
    speakers = tuple(
        Speaker(label, name=label,
                role=given.get(label) or ("rep" if label == rep_label else "customer"))
        for label in labels
    )
    plain = [replace(u, role=None) for u in utterances]
    return CallAttribution("import", renumber(plain), speakers, duration_s=duration_s)


def _centroid(pcm: Pcm, utterances: Sequence[Utterance], speaker: Speaker,
              most: int = 40) -> np.ndarray | None:
    """A speaker's voice embedding from (up to ``most`` of) their utterances."""
    from .voice import VoiceEncoder

    spans = [(u.start_s, u.end_s) for u in utterances
             if u.speaker == speaker.label and u.end_s - u.start_s >= 1.0][:most]
    if not spans:
        return None
    audio = (pcm.channel(speaker.channel) if speaker.channel is not None else pcm.mono())
    emb = VoiceEncoder().embed_windows(audio, spans).mean(axis=0)
    return emb / max(float(np.linalg.norm(emb)), 1e-9)


VOICEPRINT_MATCH = 0.80  # cosine similarity that counts as "the same person"


def assign_roles(
    utterances: Sequence[Utterance],
    speakers: list[Speaker],
    rep_name: str | None,
    voiceprints: dict[str, np.ndarray],
) -> list[Speaker]:
    """Rep or customer for each speaker of a mono call.

    An enrolled rep's voiceprint wins (and names the speaker); otherwise
    ``guess_rep`` picks the rep. Everyone else is the customer side.
    """
    named: dict[str, str] = {}
    for s in speakers:
        if s.embedding is not None and voiceprints:
            rep = match_voiceprint(s.embedding, voiceprints, VOICEPRINT_MATCH)
            if rep and rep not in named.values():
                named[s.label] = rep
    rep_label = next((label for label, rep in named.items() if rep == rep_name), None)
    if rep_label is None and not named:
        rep_label = guess_rep(utterances, rep_name)
    out = []
    for s in speakers:
        if s.label in named:
            out.append(replace(s, role="rep", name=named[s.label]))
        elif s.label == rep_label:
            out.append(replace(s, role="rep", name=rep_name))
        else:
            out.append(replace(s, role="customer"))
    return out
