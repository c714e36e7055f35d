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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ClipStudioError, MediaError, ModelError, NoSpeechError
from .media import DecodeStream, MediaInfo, probe
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
from .transcribe import DEFAULT_CHUNK_S, SAMPLE_RATE, Transcriber

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
    ingested: list[IngestedFile] = []
    skipped: list[SkippedFile] = []
    library.remove_orphan_media(min_age_s=ORPHAN_MIN_AGE_S)
    transcriber: Transcriber | None = None
    hotwords = ", ".join(library.vocabulary())

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
            if transcriber is None:
                report(0.0, "loading model")
                transcriber = Transcriber(options.model, options.device, chunk_s=options.chunk_s)
            result = _ingest_one(
                library, path, sha, meta_for(path, entries), transcriber, hotwords, report
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
    transcriber: Transcriber,
    hotwords: str,
    report: Callable[[float, str], None],
) -> IngestedFile | SkippedFile:
    info = _probe(path)
    media_dir = library.media_dir
    original = media_dir / f"{sha[:16]}{path.suffix.lower()}"
    playback = media_dir / f"{sha[:16]}.playback.mp3"
    pid = os.getpid()
    tmp_original = media_dir / f".tmp-{pid}-{sha[:16]}{path.suffix.lower()}"
    tmp_playback = media_dir / f".tmp-{pid}-{sha[:16]}.playback.mp3"
    try:
        shutil.copyfile(path, tmp_original)
        report(0.01, "transcribing")
        utterances, decoded_s = _decode_and_transcribe(
            path, info, tmp_playback, transcriber, hotwords, report
        )
        report(0.99, "saving")
        try:
            call_id = library.insert_call(
                sha=sha,
                meta=meta,
                info=info,
                duration_s=decoded_s,
                source=path,
                model=transcriber.model_name,
                utterances=utterances,
                files=[(tmp_original, original), (tmp_playback, playback)],
            )
        except sqlite3.IntegrityError:
            # Another writer committed the same recording while we transcribed it.
            existing = library.call_id_for_hash(sha)
            return SkippedFile(str(path), existing or 0, "already in library")
    finally:
        tmp_original.unlink(missing_ok=True)
        tmp_playback.unlink(missing_ok=True)
    return IngestedFile(call_id, str(path), decoded_s)


def _probe(path: Path) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        for needle, plain in _KNOWN_FFMPEG:
            if needle in exc.stderr_tail:
                raise MediaError(plain, path=str(path)) from exc
        raise


def _decode_and_transcribe(
    path: Path,
    info: MediaInfo,
    playback_to: Path,
    transcriber: Transcriber,
    hotwords: str,
    report: Callable[[float, str], None],
) -> tuple[list[Utterance], float]:
    peak = 0.0

    def metered(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal peak
        for block in blocks:
            if len(block):
                peak = max(peak, float(np.abs(block).max()))
            yield block

    with DecodeStream(
        path,
        sample_rate=SAMPLE_RATE,
        channels=1,
        playback_to=playback_to,
        playback_channels=min(info.channels, 2),
    ) as stream:
        utterances = transcriber.transcribe(
            metered(stream.blocks()),
            total_s=info.duration_s,
            hotwords=hotwords,
            on_progress=lambda f: report(0.01 + 0.97 * f, "transcribing"),
        )
        stream.close()
    decoded_s = stream.decoded_s
    if decoded_s < 0.05:
        raise MediaError("no audio could be decoded from the file", path=str(path))
    declared = info.duration_s
    if declared and decoded_s < declared - max(2.0, 0.05 * declared):
        raise MediaError(
            f"file is truncated: it declares {declared:.1f} s but only {decoded_s:.1f} s "
            "of audio could be decoded",
            path=str(path),
        )
    if peak < SILENCE_PEAK:
        level = "-inf" if peak == 0 else f"{20 * np.log10(peak):.0f}"
        raise NoSpeechError(f"recording is silent (loudest sample {level} dBFS)", path=str(path))
    if not utterances:
        raise NoSpeechError("no speech found in the recording", path=str(path))
    return utterances, decoded_s

