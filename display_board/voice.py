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
Composed WAVs are cached by their text (memory and ``cache_dir/composed``).

Everything but espeak-ng is the standard library; the PCM work (reading and
converting clips, the chime) is in :mod:`display_board.audio`.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import threading
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
    "make_chime",
    "play_wav",
    "read_wav",
    "required_clips",
    "set_default_composer",
    "wav_bytes",
]

CHIME = "chime"
ESPEAK_VOICES = {"vi": "vi", "en": "en-us"}


# --- espeak-ng -----------------------------------------------------------------


def espeak_synthesize(
    text: str, out: str | os.PathLike, voice: str = "vi", speed: int | None = None
) -> None:
    """Synthesise ``text`` into the WAV file ``out`` with espeak-ng."""
    exe = shutil.which("espeak-ng")
    if not exe:
        raise VoiceUnavailable("espeak-ng is not installed")
    cmd = [exe, "-v", voice, "-w", str(out)]
    if speed:
        cmd += ["-s", str(speed)]
    try:
        subprocess.run(cmd + ["--", text], check=True, capture_output=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise VoiceUnavailable(f"espeak-ng failed for {text!r}: {exc}") from exc


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
        self._memory_cache = memory_cache
        self._clipset_id: str | None = None

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
                if not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                    espeak_synthesize(clip.text, tmp, voice, self.speed)
                    os.replace(tmp, path)
                samples = trim_silence(read_wav(path, self.rate), self.rate)
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
        if disk.is_file():
            audio = ComposedAudio(disk.read_bytes(), ann.text, tuple(clips), "clips")
        else:
            audio = self._compose_clips(ann, repeat, clips) or self._compose_sentence(ann, repeat)
            if audio.source == "clips":
                disk.parent.mkdir(parents=True, exist_ok=True)
                tmp = disk.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_bytes(audio.wav)
                os.replace(tmp, disk)
        with self._lock:
            self._composed[key] = audio
            while len(self._composed) > self._memory_cache:
                self._composed.popitem(last=False)
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
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sentence.wav"
            espeak_synthesize(ann.text, path, self._voice(ann.lang), self.speed)
            sentence = trim_silence(read_wav(path, self.rate), self.rate)
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
