"""PCM helpers for announcement audio, standard library only.

Mono 16-bit samples are kept in ``array('h')``.  :func:`read_wav` loads any
PCM WAV (8/16/24/32-bit, any rate, any channel count) as mono 16-bit at the
target rate, converting in pure Python; formats ``wave`` cannot read (float,
extensible) go through sox.  :func:`make_chime` generates the ding-dong.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import tempfile
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_RATE",
    "VoiceUnavailable",
    "make_chime",
    "normalise_peak",
    "play_wav",
    "read_wav",
    "silence",
    "trim_silence",
    "wav_bytes",
]

DEFAULT_RATE = 22050  # espeak-ng's native rate


class VoiceUnavailable(RuntimeError):
    """No clip and no working espeak-ng to say an announcement."""


# --- PCM helpers -----------------------------------------------------------------


def wav_bytes(samples: array, rate: int = DEFAULT_RATE) -> bytes:
    """A mono 16-bit WAV file holding ``samples`` (``array('h')``)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def _to_int16(raw: bytes, width: int) -> array:
    if width == 2:
        out = array("h")
        out.frombytes(raw)
        return out
    if width == 1:  # unsigned 8-bit
        return array("h", ((b - 128) << 8 for b in raw))
    if width in (3, 4):
        return array(
            "h",
            (
                int.from_bytes(raw[i + width - 2 : i + width], "little", signed=True)
                for i in range(0, len(raw), width)
            ),
        )
    raise ValueError(f"unsupported sample width {width}")


def _to_mono(samples: array, channels: int) -> array:
    if channels == 1:
        return samples
    return array(
        "h",
        (
            sum(samples[i : i + channels]) // channels
            for i in range(0, len(samples) - channels + 1, channels)
        ),
    )


def _resample(samples: array, src: int, dst: int) -> array:
    """Linear-interpolation resampling (adequate for speech clips)."""
    if src == dst or not samples:
        return samples
    n_out = max(1, round(len(samples) * dst / src))
    step = src / dst
    last = len(samples) - 1
    out = array("h", bytes(2 * n_out))
    for i in range(n_out):
        pos = i * step
        j = int(pos)
        if j >= last:
            out[i] = samples[last]
        else:
            frac = pos - j
            out[i] = int(samples[j] + (samples[j + 1] - samples[j]) * frac)
    return out


def _sox_convert(path: Path, rate: int) -> bytes:
    sox = shutil.which("sox")
    if not sox:
        raise VoiceUnavailable(f"cannot read {path} and sox is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            [
                sox,
                str(path),
                "-r",
                str(rate),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(out),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return out.read_bytes()


def read_wav(source: str | os.PathLike | bytes, rate: int = DEFAULT_RATE) -> array:
    """Read a WAV (path or bytes) as mono 16-bit samples at ``rate``."""
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
        with handle, wave.open(handle, "rb") as w:
            channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        if isinstance(source, bytes):
            raise
        return read_wav(_sox_convert(Path(source), rate), rate)
    samples = _to_mono(_to_int16(raw, width), channels)
    return _resample(samples, src_rate, rate)


def trim_silence(samples: array, rate: int, threshold: int = 400, keep_ms: int = 15) -> array:
    """Cut leading and trailing near-silence (espeak pads every utterance)."""
    n = len(samples)
    start = 0
    while start < n and abs(samples[start]) < threshold:
        start += 1
    end = n
    while end > start and abs(samples[end - 1]) < threshold:
        end -= 1
    if start >= end:
        return samples
    keep = rate * keep_ms // 1000
    return samples[max(0, start - keep) : min(n, end + keep)]


def normalise_peak(samples: array, target: float = 0.7) -> array:
    peak = max((abs(s) for s in samples), default=0)
    if peak == 0:
        return samples
    gain = target * 32767 / peak
    return array("h", (max(-32768, min(32767, int(s * gain))) for s in samples))


def silence(ms: int, rate: int) -> array:
    return array("h", bytes(2 * (rate * ms // 1000)))


def make_chime(rate: int = DEFAULT_RATE, volume: float = 0.5) -> array:
    """A two-tone "ding-dong" (E5 then C5 with a soft overtone), about 1.1 s."""
    out = array("h")
    for freq, dur in ((659.25, 0.45), (523.25, 0.65)):
        n = int(rate * dur)
        attack = int(rate * 0.01)
        for i in range(n):
            t = i / rate
            env = math.exp(-4.0 * t / dur) * (min(1.0, i / attack) if attack else 1.0)
            v = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t)
            out.append(int(32767 * volume * env * v / 1.3))
    return out


def play_wav(wav: bytes, command: Sequence[str] | None = None) -> None:
    """Play WAV bytes through a command reading stdin (aplay, paplay or sox's play)."""
    if command is None:
        for candidate in (["aplay", "-q", "-"], ["paplay"], ["play", "-q", "-t", "wav", "-"]):
            if shutil.which(candidate[0]):
                command = candidate
                break
        else:
            raise VoiceUnavailable("no audio player found (aplay, paplay, play)")
    subprocess.run(list(command), input=wav, check=True, capture_output=True)
