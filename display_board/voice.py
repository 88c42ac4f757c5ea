"""Audio for call announcements, built from a set of short clips.

The composer plays a chime, then one clip per phrase and per number word,
with short silences between them, into one WAV (16-bit mono PCM).  Clips come
from either

* a folder of recorded human clips (``clip_dir``): ``chime.wav`` (optional),
  ``moi_cong_dan.wav``, ``den_quay_so.wav``, ``mot.wav``, ``muoi2.wav`` ...
  (the full list is in ``docs/voice.md`` and :func:`required_clips`); or
* by default, clips synthesised with espeak-ng (``-v vi``) on first use and
  cached in ``cache_dir/clips/<voice>/``.

When a recorded clip is missing, the whole sentence is synthesised with
espeak-ng instead (one voice for the whole sentence rather than a mix).  The
chime is generated (a two-tone ding-dong) unless the clip folder has one.
Composed WAVs are cached by their text, in memory (``memory_cache`` entries and
``memory_bytes``) and in ``cache_dir/composed`` (``max_cache_files`` files and
``max_cache_bytes``, least recently used evicted first).

A cache that cannot be written (a full disk: ENOSPC) never silences the hall:
clips are then synthesised to memory (espeak-ng ``--stdout``) and composed
audio is kept in memory only; ``VoiceComposer.cache_error`` and
``cache_full`` tell the caller (the server raises a storage alert).

Everything but espeak-ng is the standard library; the PCM work (reading and
converting clips, the chime) is in :mod:`display_board.audio`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from array import array
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from display_board.announce import (
    DEFAULT_TEMPLATES,
    Announcement,
    AnnouncementTemplates,
    Clip,
    build_announcement,
)
from display_board.audio import (
    DEFAULT_RATE,
    VoiceUnavailable,
    make_chime,
    normalise_peak,
    play_wav,
    read_wav,
    silence,
    trim_silence,
    wav_bytes,
)
from display_board.vi_numbers import ReadingOptions

__all__ = [
    "CHIME",
    "DEFAULT_RATE",
    "ComposedAudio",
    "VoiceComposer",
    "VoiceUnavailable",
    "announcement_clips",
    "compose_announcement",
    "default_composer",
    "espeak_synthesize",
    "espeak_wav",
    "make_chime",
    "play_wav",
    "read_wav",
    "required_clips",
    "set_default_composer",
    "wav_bytes",
]

CHIME = "chime"
ESPEAK_VOICES = {"vi": "vi", "en": "en-us"}
# disk cache of composed announcements: a day's calls of a busy hall fit (~350 KB each)
MAX_CACHE_FILES = 200
MAX_CACHE_BYTES = 64 * 1024 * 1024
MEMORY_CACHE_BYTES = 16 * 1024 * 1024
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
STALE_TMP_S = 300

log = logging.getLogger(__name__)


# --- espeak-ng -----------------------------------------------------------------


def espeak_wav(text: str, voice: str = "vi", speed: int | None = None) -> bytes:
    """Synthesise ``text`` with espeak-ng into WAV bytes (in memory, no file written)."""
    exe = shutil.which("espeak-ng")
    if not exe:
        raise VoiceUnavailable("espeak-ng is not installed")
    cmd = [exe, "-v", voice, "--stdout"]
    if speed:
        cmd += ["-s", str(speed)]
    try:
        raw = subprocess.run(cmd + ["--", text], check=True, capture_output=True, timeout=30).stdout
        # espeak streams with placeholder sizes in the header: write a proper file
        with wave.open(io.BytesIO(raw), "rb") as w:
            params = w.getparams()
            frames = w.readframes(w.getnframes())
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise VoiceUnavailable(f"espeak-ng failed for {text!r}: {exc}") from exc
    except (wave.Error, EOFError) as exc:
        raise VoiceUnavailable(f"espeak-ng gave no audio for {text!r}: {exc}") from exc
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(params.nchannels)
        w.setsampwidth(params.sampwidth)
        w.setframerate(params.framerate)
        w.writeframes(frames)
    return buf.getvalue()


def espeak_synthesize(
    text: str, out: str | os.PathLike, voice: str = "vi", speed: int | None = None
) -> None:
    """Synthesise ``text`` into the WAV file ``out`` with espeak-ng (an ``OSError`` such as
    ENOSPC from writing ``out`` is raised as it is)."""
    data = espeak_wav(text, voice, speed)
    Path(out).write_bytes(data)


# --- the composer ------------------------------------------------------------------


@dataclass(frozen=True)
class ComposedAudio:
    wav: bytes
    text: str
    clips: tuple[str, ...]  # ordered clip names used ("chime" first)
    source: str  # "clips" or "espeak-sentence"

    @property
    def duration(self) -> float:
        with wave.open(io.BytesIO(self.wav), "rb") as w:
            return w.getnframes() / w.getframerate()


class VoiceComposer:
    """Builds announcement WAVs from clips; thread-safe, caches everything.

    ``clip_dir``: folder of recorded clips (``<name>.wav``); ``None`` uses
    espeak-ng clips.  ``cache_dir``: where synthesised clips and composed
    WAVs are kept.  Gaps are in milliseconds.
    """

    def __init__(
        self,
        clip_dir: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
        *,
        templates: Mapping[str, AnnouncementTemplates] | None = None,
        options: ReadingOptions | None = None,
        rate: int = DEFAULT_RATE,
        espeak_voices: Mapping[str, str] | None = None,
        speed: int | None = None,
        word_gap_ms: int = 30,
        phrase_gap_ms: int = 150,
        chime_gap_ms: int = 300,
        repeat_gap_ms: int = 800,
        normalise: bool = True,
        memory_cache: int = 64,
        memory_bytes: int = MEMORY_CACHE_BYTES,
        max_cache_files: int = MAX_CACHE_FILES,
        max_cache_bytes: int = MAX_CACHE_BYTES,
    ) -> None:
        self.clip_dir = Path(clip_dir) if clip_dir is not None else None
        default_cache = (
            os.environ.get("QMS_VOICE_CACHE") or Path(tempfile.gettempdir()) / "qms-voice"
        )
        self.cache_dir = Path(cache_dir if cache_dir is not None else default_cache)
        self.templates = dict(templates) if templates is not None else dict(DEFAULT_TEMPLATES)
        self.options = options
        self.rate = rate
        self.voices = {**ESPEAK_VOICES, **(espeak_voices or {})}
        self.speed = speed
        self.gaps = (word_gap_ms, phrase_gap_ms, chime_gap_ms, repeat_gap_ms)
        self.normalise = normalise
        self._lock = threading.RLock()
        self._clips: dict[tuple[str, str], array | None] = {}
        self._composed: OrderedDict[str, ComposedAudio] = OrderedDict()
        self._composed_bytes = 0
        self._memory_cache = max(1, memory_cache)
        self._memory_bytes = memory_bytes
        self.max_cache_files = max_cache_files
        self.max_cache_bytes = max_cache_bytes
        self._clipset_id: str | None = None
        # the last failed cache write (None once a write succeeds again)
        self.cache_error: OSError | None = None

    # the disk cache
    @property
    def cache_full(self) -> bool:
        """Whether the last cache write failed because the disk (or quota) is full."""
        err = self.cache_error
        return err is not None and err.errno in FULL_ERRNOS

    def _cache_failed(self, exc: OSError, what: Path) -> None:
        if self.cache_error is None or self.cache_error.errno != exc.errno:
            log.warning("voice cache not written (%s): %s; kept in memory", what, exc)
        self.cache_error = exc

    def _write_cache(self, path: Path, data: bytes | None = None, synth=None) -> bool:
        """Write one cache file atomically (temp file + rename); False when the disk
        refuses (the temp file is removed, nothing half-written stays)."""
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if synth is not None:
                synth(tmp)
            else:
                tmp.write_bytes(data or b"")
            os.replace(tmp, path)
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            self._cache_failed(exc, path)
            return False
        self.cache_error = None
        return True

    def _evict_composed(self, keep: Path | None = None) -> None:
        """Remove the least recently used composed WAVs beyond the caps (and stale temp
        files a crashed writer left)."""
        folder = self.cache_dir / "composed"
        now = time.time()
        entries = []
        try:
            listing = list(folder.iterdir())
        except OSError:
            return
        for p in listing:
            try:
                st = p.stat()
            except OSError:
                continue
            if p.name.endswith(".tmp"):
                if now - st.st_mtime > STALE_TMP_S:
                    p.unlink(missing_ok=True)
                continue
            if p.suffix == ".wav":
                entries.append((st.st_mtime, p, st.st_size))
        entries.sort(key=lambda e: e[0])  # least recently used first
        count, total = len(entries), sum(e[2] for e in entries)
        for _, p, size in entries:
            if count <= self.max_cache_files and total <= self.max_cache_bytes:
                break
            if p == keep:
                continue
            try:
                p.unlink()
            except OSError:
                continue
            count -= 1
            total -= size

    def cache_usage(self) -> tuple[int, int]:
        """(files, bytes) of composed WAVs on disk."""
        files = list((self.cache_dir / "composed").glob("*.wav"))
        return len(files), sum(p.stat().st_size for p in files if p.exists())

    # clips
    def _voice(self, lang: str) -> str:
        return self.voices.get(lang, lang)

    def chime(self) -> array:
        with self._lock:
            key = (CHIME, "")
            if key not in self._clips:
                path = self.clip_dir / f"{CHIME}.wav" if self.clip_dir else None
                self._clips[key] = (
                    read_wav(path, self.rate) if path and path.is_file() else make_chime(self.rate)
                )
            return self._clips[key]  # type: ignore[return-value]

    def clip(self, clip: Clip, lang: str = "vi") -> array | None:
        """Samples of one clip, or ``None`` when a recorded clip is missing."""
        key = (clip.name, lang)
        with self._lock:
            if key in self._clips:
                return self._clips[key]
            if self.clip_dir is not None:
                path = self.clip_dir / f"{clip.name}.wav"
                samples = read_wav(path, self.rate) if path.is_file() else None
            else:
                voice = self._voice(lang)
                path = self.cache_dir / "clips" / voice / f"{clip.name}.wav"
                source: Path | bytes = path
                if not path.is_file() and not self._write_cache(
                    path, synth=lambda tmp: espeak_synthesize(clip.text, tmp, voice, self.speed)
                ):
                    source = espeak_wav(clip.text, voice, self.speed)  # disk full: in memory
                samples = trim_silence(read_wav(source, self.rate), self.rate)
            if samples is not None and self.normalise:
                samples = normalise_peak(samples)
            self._clips[key] = samples
            return samples

    # composing
    def announcement(
        self, number: int, counter: int | None, lang: str = "vi", recall: bool = False
    ) -> Announcement:
        return build_announcement(number, counter, lang, recall, self.templates, self.options)

    def clip_sequence(
        self,
        number: int,
        counter: int | None,
        lang: str = "vi",
        recall: bool = False,
        repeat: int = 1,
    ) -> list[str]:
        """The ordered clip names an announcement is made of (chime first)."""
        names = self.announcement(number, counter, lang, recall).clip_names
        return [CHIME] + names * max(1, repeat)

    def compose(
        self,
        number: int,
        counter: int | None,
        lang: str = "vi",
        recall: bool = False,
        repeat: int = 1,
    ) -> ComposedAudio:
        ann = self.announcement(number, counter, lang, recall)
        repeat = max(1, int(repeat))
        key = hashlib.sha1(
            repr(
                (
                    ann.text,
                    lang,
                    repeat,
                    self.gaps,
                    self.rate,
                    self._voice(lang),
                    self._fingerprint(),
                    self.speed,
                    self.normalise,
                )
            ).encode()
        ).hexdigest()
        with self._lock:
            hit = self._composed.get(key)
            if hit is not None:
                self._composed.move_to_end(key)
                return hit
        disk = self.cache_dir / "composed" / f"{key}.wav"
        clips = self.clip_sequence(number, counter, lang, recall, repeat)
        wav = None
        if disk.is_file():
            try:
                wav = disk.read_bytes()
                os.utime(disk)  # least recently used goes first
            except OSError:
                pass  # evicted meanwhile, or a read-only cache: compose again
        if wav is not None:
            audio = ComposedAudio(wav, ann.text, tuple(clips), "clips")
        else:
            audio = self._compose_clips(ann, repeat, clips) or self._compose_sentence(ann, repeat)
            if audio.source == "clips" and len(audio.wav) <= self.max_cache_bytes:
                with self._lock:  # one writer evicts at a time
                    if self._write_cache(disk, audio.wav):
                        self._evict_composed(keep=disk)
        with self._lock:
            old = self._composed.pop(key, None)
            if old is not None:
                self._composed_bytes -= len(old.wav)
            self._composed[key] = audio
            self._composed_bytes += len(audio.wav)
            while len(self._composed) > 1 and (
                len(self._composed) > self._memory_cache
                or self._composed_bytes > self._memory_bytes
            ):
                _, dropped = self._composed.popitem(last=False)
                self._composed_bytes -= len(dropped.wav)
        return audio

    def _compose_clips(
        self, ann: Announcement, repeat: int, names: list[str]
    ) -> ComposedAudio | None:
        word_gap, phrase_gap, chime_gap, repeat_gap = (silence(ms, self.rate) for ms in self.gaps)
        sentence = array("h")
        for i, seg in enumerate(ann.segments):
            if i:
                sentence += phrase_gap
            for j, clip in enumerate(seg.clips):
                samples = self.clip(clip, ann.lang)
                if samples is None:
                    return None
                if j:
                    sentence += word_gap
                sentence += samples
        out = self.chime() + chime_gap
        for k in range(repeat):
            if k:
                out += repeat_gap
            out += sentence
        return ComposedAudio(wav_bytes(out, self.rate), ann.text, tuple(names), "clips")

    def _compose_sentence(self, ann: Announcement, repeat: int) -> ComposedAudio:
        """Fallback: the whole text in one espeak-ng utterance."""
        # in memory, no temporary file: works on a full disk too
        wav = espeak_wav(ann.text, self._voice(ann.lang), self.speed)
        sentence = trim_silence(read_wav(wav, self.rate), self.rate)
        out = self.chime() + silence(self.gaps[2], self.rate)
        for k in range(repeat):
            if k:
                out += silence(self.gaps[3], self.rate)
            out += sentence
        clips = (CHIME,) + ("<sentence>",) * repeat
        return ComposedAudio(wav_bytes(out, self.rate), ann.text, clips, "espeak-sentence")

    def _fingerprint(self) -> str:
        """Identity of the clip set, so edited recorded clips invalidate the disk cache."""
        with self._lock:
            if self._clipset_id is None:
                if self.clip_dir is None:
                    self._clipset_id = "espeak"
                else:
                    stats = sorted(
                        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
                        for p in self.clip_dir.glob("*.wav")
                    )
                    self._clipset_id = f"{self.clip_dir.resolve()}:{stats}"
            return self._clipset_id

    def reload(self) -> None:
        """Forget loaded clips and composed audio (after clips were replaced)."""
        with self._lock:
            self._clips.clear()
            self._composed.clear()
            self._composed_bytes = 0
            self._clipset_id = None

    def missing_clips(self, lang: str = "vi") -> list[str]:
        """Recorded clips absent from ``clip_dir`` (empty when using espeak)."""
        if self.clip_dir is None:
            return []
        return [
            name
            for name, _ in required_clips(lang, self.templates, self.options)
            if not (self.clip_dir / f"{name}.wav").is_file()
        ]


def required_clips(
    lang: str = "vi",
    templates: Mapping[str, AnnouncementTemplates] | None = None,
    options: ReadingOptions | None = None,
) -> list[tuple[str, str]]:
    """Every (clip name, text) a language's announcements can use, without the chime."""
    seen: dict[str, str] = {}
    samples = list(range(0, 1000)) + [1000, 1001, 1234, 10000, 21000, 100000]
    for recall in (False, True):
        for n in samples:
            ann = build_announcement(n, 1, lang, recall, templates, options)
            for seg in ann.segments:
                for clip in seg.clips:
                    seen.setdefault(clip.name, clip.text)
    return list(seen.items())


# --- module-level convenience ----------------------------------------------------

_default: VoiceComposer | None = None
_default_lock = threading.Lock()


def default_composer() -> VoiceComposer:
    """The shared composer: clips from ``$QMS_VOICE_CLIPS`` if set, else espeak-ng;
    cache in ``$QMS_VOICE_CACHE`` or the system temp folder."""
    global _default
    with _default_lock:
        if _default is None:
            _default = VoiceComposer(os.environ.get("QMS_VOICE_CLIPS") or None)
        return _default


def set_default_composer(composer: VoiceComposer | None) -> None:
    global _default
    with _default_lock:
        _default = composer


def compose_announcement(
    number: int, counter: int | None, lang: str = "vi", recall: bool = False, repeat: int = 1
) -> bytes:
    """The WAV bytes of one call announcement (chime + sentence x ``repeat``)."""
    return default_composer().compose(number, counter, lang, recall, repeat).wav


def announcement_clips(
    number: int, counter: int | None, lang: str = "vi", recall: bool = False, repeat: int = 1
) -> list[str]:
    """The ordered clip names :func:`compose_announcement` uses."""
    return default_composer().clip_sequence(number, counter, lang, recall, repeat)
