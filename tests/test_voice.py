"""Announcement audio: real espeak-ng clips, recorded-clip folders, fallback, cache."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import threading
import wave
from array import array
from pathlib import Path

import pytest

from display_board import voice
from display_board.announce import Clip
from display_board.voice import (
    CHIME,
    DEFAULT_RATE,
    VoiceComposer,
    VoiceUnavailable,
    announcement_clips,
    compose_announcement,
    make_chime,
    play_wav,
    read_wav,
    required_clips,
    set_default_composer,
    wav_bytes,
)

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="needs espeak-ng")

CHIME_S = len(make_chime()) / DEFAULT_RATE


def duration(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, DEFAULT_RATE)
        return w.getnframes() / w.getframerate()


def samples_of(wav: bytes) -> array:
    with wave.open(io.BytesIO(wav), "rb") as w:
        out = array("h")
        out.frombytes(w.readframes(w.getnframes()))
        return out


@pytest.fixture(scope="module")
def composer(tmp_path_factory: pytest.TempPathFactory) -> VoiceComposer:
    return VoiceComposer(cache_dir=tmp_path_factory.mktemp("voice-cache"))


# --- espeak clips ------------------------------------------------------------------


def test_compose_vietnamese_call(composer: VoiceComposer) -> None:
    audio = composer.compose(1023, 5)
    assert audio.source == "clips"
    assert audio.text == (
        "Mời công dân có số thứ tự một nghìn không trăm hai mươi ba đến quầy số năm"
    )
    assert list(audio.clips) == [
        CHIME, "moi_cong_dan", "mot", "nghin", "khong", "tram", "hai", "muoi2", "ba",
        "den_quay_so", "nam",
    ]  # fmt: skip
    d = duration(audio.wav)
    assert CHIME_S + 2.0 < d < CHIME_S + 12.0
    # the chime opens the file, byte for byte
    chime = make_chime()
    assert samples_of(audio.wav)[: len(chime)] == chime


def test_duration_grows_with_words(composer: VoiceComposer) -> None:
    short = duration(composer.compose(1, 1).wav)
    mid = duration(composer.compose(21, 1).wav)
    long = duration(composer.compose(1234, 15).wav)
    longest = duration(composer.compose(9999, 99).wav)
    assert CHIME_S < short < mid < long < longest
    recall = duration(composer.compose(1, 1, recall=True).wav)
    assert recall > short + 0.3


def test_repeat_says_the_sentence_again_after_one_chime(composer: VoiceComposer) -> None:
    once = composer.compose(1015, 3)
    twice = composer.compose(1015, 3, repeat=2)
    sentence = duration(once.wav) - CHIME_S - composer.gaps[2] / 1000
    gap = composer.gaps[3] / 1000
    assert duration(twice.wav) == pytest.approx(duration(once.wav) + gap + sentence, abs=0.002)
    assert list(twice.clips) == [CHIME] + list(once.clips[1:]) * 2


def test_english_call(composer: VoiceComposer) -> None:
    audio = composer.compose(1023, 5, lang="en")
    assert audio.text == "Ticket number 1023, please go to counter 5"
    assert audio.clips[:3] == (CHIME, "en_ticket_number", "en_one")
    assert duration(audio.wav) > CHIME_S + 1.5
    assert (composer.cache_dir / "clips" / "en-us" / "en_thousand.wav").is_file()


def test_every_vietnamese_clip_synthesises(composer: VoiceComposer) -> None:
    names = dict(required_clips("vi"))
    assert {"khong", "mot", "muoi", "muoi2", "mot2", "tu", "lam", "linh", "tram", "nghin"} <= set(
        names
    )
    assert {"moi_cong_dan", "den_quay_so", "nhac_lai"} <= set(names)
    for name, text in names.items():
        samples = composer.clip(Clip(name, text))
        assert samples is not None and 0.1 * DEFAULT_RATE < len(samples) < 3 * DEFAULT_RATE, name
        assert (composer.cache_dir / "clips" / "vi" / f"{name}.wav").is_file()


def test_composed_wavs_are_cached(composer: VoiceComposer, monkeypatch) -> None:
    first = composer.compose(4321, 7)
    assert list((composer.cache_dir / "composed").glob("*.wav"))

    def no_espeak(*args, **kwargs):
        raise AssertionError("espeak-ng must not run for a cached announcement")

    monkeypatch.setattr(voice, "espeak_synthesize", no_espeak)
    assert composer.compose(4321, 7) is first  # memory cache
    fresh = VoiceComposer(cache_dir=composer.cache_dir)  # disk cache
    assert fresh.compose(4321, 7).wav == first.wav
    # a new number from already-synthesised word clips needs no espeak-ng either
    assert fresh.compose(1234, 21).source == "clips"


def test_concurrent_composition_is_consistent(tmp_path: Path) -> None:
    comp = VoiceComposer(cache_dir=tmp_path)
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(comp.compose(2005, 12).wav))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1


def test_module_level_functions(composer: VoiceComposer) -> None:
    set_default_composer(composer)
    try:
        wav = compose_announcement(1023, 5)
        assert wav == composer.compose(1023, 5).wav
        assert announcement_clips(24, 2, recall=True) == [
            CHIME, "nhac_lai", "moi_cong_dan", "hai", "muoi2", "tu", "den_quay_so", "hai",
        ]  # fmt: skip
        assert announcement_clips(1, 1, repeat=3).count("moi_cong_dan") == 3
    finally:
        set_default_composer(None)


def test_no_espeak_means_voice_unavailable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(voice.shutil, "which", lambda name: None)
    with pytest.raises(VoiceUnavailable):
        VoiceComposer(cache_dir=tmp_path).compose(1, 1)


# --- recorded clip folders -----------------------------------------------------------


def write_tone(path: Path, seconds: float, rate: int, channels: int = 1, width: int = 2) -> None:
    n = int(seconds * rate)
    frames = bytearray()
    for i in range(n):
        v = math.sin(2 * math.pi * 300 * i / rate) * 0.5 + 0.3  # never exactly zero
        for _ in range(channels):
            if width == 1:
                frames.append(int(128 + v * 127))
            else:
                frames += int(v * (2 ** (8 * width - 1) - 1)).to_bytes(width, "little", signed=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def sound_runs(samples: array, min_gap: int = 200) -> list[int]:
    """Lengths of the runs of sound separated by at least ``min_gap`` zero samples."""
    runs, start, zeros = [], None, 0
    for i, s in enumerate(samples):
        if s == 0:
            zeros += 1
            if start is not None and zeros >= min_gap:
                runs.append(i - zeros + 1 - start)
                start = None
        else:
            if start is None:
                start = i
            zeros = 0
    if start is not None:
        runs.append(len(samples) - zeros - start)
    return runs


def recorded_set(folder: Path, skip: set[str] = frozenset()) -> dict[str, float]:
    """A clip folder of tones with distinct lengths and assorted formats."""
    folder.mkdir(exist_ok=True)
    lengths = {}
    formats = [(44100, 2, 2), (16000, 1, 1), (22050, 1, 2), (48000, 1, 3)]
    for i, (name, _) in enumerate(required_clips("vi")):
        if name in skip:
            continue
        lengths[name] = 0.10 + 0.02 * i
        rate, channels, width = formats[i % len(formats)]
        write_tone(folder / f"{name}.wav", lengths[name], rate, channels, width)
    return lengths


def test_recorded_clips_in_order_with_format_conversion(tmp_path: Path) -> None:
    lengths = recorded_set(tmp_path / "clips")
    write_tone(tmp_path / "clips" / "chime.wav", 0.5, 8000)
    comp = VoiceComposer(tmp_path / "clips", tmp_path / "cache")
    assert comp.missing_clips() == []
    audio = comp.compose(1234, 15)
    assert audio.source == "clips"
    names = list(audio.clips)
    assert names[0] == CHIME and names[1:] == comp.announcement(1234, 15).clip_names
    runs = sound_runs(samples_of(audio.wav))
    expected = [0.5] + [lengths[n] for n in names[1:]]
    assert len(runs) == len(expected)
    for got, want in zip(runs, expected, strict=True):
        assert got / DEFAULT_RATE == pytest.approx(want, abs=0.002)
    # no espeak clip was made for a recorded set
    assert not (tmp_path / "cache" / "clips").exists()


def test_missing_recorded_clip_falls_back_to_whole_sentence(tmp_path: Path) -> None:
    recorded_set(tmp_path / "clips", skip={"muoi2"})
    comp = VoiceComposer(tmp_path / "clips", tmp_path / "cache")
    assert comp.missing_clips() == ["muoi2"]
    full = comp.compose(1015, 3)  # no "mươi" in it: clips
    assert full.source == "clips"
    fallback = comp.compose(1023, 3)  # needs "mươi"
    assert fallback.source == "espeak-sentence"
    assert fallback.clips == (CHIME, "<sentence>")
    assert CHIME_S + 1.5 < duration(fallback.wav) < CHIME_S + 12
    twice = comp.compose(1023, 3, repeat=2)
    assert duration(twice.wav) > duration(fallback.wav) + 1.5


def test_read_wav_converts_formats(tmp_path: Path) -> None:
    for rate, channels, width in [(44100, 2, 2), (8000, 1, 1), (48000, 2, 3), (11025, 1, 4)]:
        path = tmp_path / f"t{rate}_{channels}_{width}.wav"
        write_tone(path, 0.25, rate, channels, width)
        samples = read_wav(path)
        assert len(samples) == pytest.approx(0.25 * DEFAULT_RATE, abs=2)
        assert 0.7 * 32767 < max(samples) < 0.85 * 32767, (rate, channels, width)
    assert read_wav(wav_bytes(array("h", [1, 2, 3]))) == array("h", [1, 2, 3])


@pytest.mark.skipif(not shutil.which("sox"), reason="needs sox")
def test_read_wav_uses_sox_for_float_wavs(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-e",
            "floating-point",
            "-b",
            "32",
            str(path),
            "synth",
            "0.2",
            "sine",
            "440",
        ],
        check=True,
    )
    with pytest.raises(wave.Error):
        wave.open(str(path), "rb")
    assert len(read_wav(path)) == pytest.approx(0.2 * DEFAULT_RATE, abs=2)


def test_replaced_recorded_clip_is_used_after_reload(tmp_path: Path) -> None:
    lengths = recorded_set(tmp_path / "clips")
    comp = VoiceComposer(tmp_path / "clips", tmp_path / "cache")
    before = duration(comp.compose(7, 2).wav)
    write_tone(tmp_path / "clips" / "bay.wav", lengths["bay"] + 0.5, 22050)
    assert duration(comp.compose(7, 2).wav) == before  # cached until reload
    comp.reload()
    assert duration(comp.compose(7, 2).wav) == pytest.approx(before + 0.5, abs=0.002)
    # a fresh composer (e.g. after a restart) does not reuse the stale disk cache
    fresh = VoiceComposer(tmp_path / "clips", tmp_path / "cache")
    assert duration(fresh.compose(7, 2).wav) == pytest.approx(before + 0.5, abs=0.002)


def test_play_wav_pipes_to_the_player_command(tmp_path: Path) -> None:
    out = tmp_path / "played.wav"
    wav = wav_bytes(make_chime())
    play_wav(wav, ["sh", "-c", f"cat > '{out}'"])
    assert out.read_bytes() == wav


# --- bounded cache and a full disk (issue #12, finding 1) ------------------------------


def warm_composer(composer: VoiceComposer, cache: Path, **kwargs) -> VoiceComposer:
    """A composer with its own cache folder holding the module composer's word clips."""
    composer.compose(1999, 23)  # make sure the clips exist
    shutil.copytree(composer.cache_dir / "clips", cache / "clips")
    return VoiceComposer(cache_dir=cache, **kwargs)


def composed_files(comp: VoiceComposer) -> list[Path]:
    return sorted((comp.cache_dir / "composed").glob("*"))


def test_disk_cache_is_capped_by_count_lru(composer: VoiceComposer, tmp_path: Path) -> None:
    import time

    comp = warm_composer(composer, tmp_path, max_cache_files=5, memory_cache=1)
    first = comp.compose(1001, 1)
    (kept,) = composed_files(comp)
    for n in range(1002, 1006):
        time.sleep(0.01)
        comp.compose(n, 1)
    assert len(composed_files(comp)) == 5
    second = composed_files(comp)
    time.sleep(0.01)
    assert comp.compose(1001, 1).wav == first.wav  # a disk hit: now the most recently used
    for n in range(1006, 1010):
        time.sleep(0.01)
        comp.compose(n, 1)
    files = composed_files(comp)
    assert len(files) == 5 and all(f.suffix == ".wav" for f in files)
    assert comp.cache_usage()[0] == 5
    assert kept in files  # used again, so it outlived four older ones
    assert len(set(second) - set(files)) == 4


def test_disk_cache_is_capped_by_bytes(composer: VoiceComposer, tmp_path: Path) -> None:
    size = len(composer.compose(1001, 1).wav)
    comp = warm_composer(composer, tmp_path, max_cache_bytes=int(size * 2.5))
    for n in range(1001, 1011):
        comp.compose(n, 1)
    files, total = comp.cache_usage()
    assert files <= 2 and total <= size * 2.5
    # an announcement bigger than the whole cache is served but never written
    small = warm_composer(composer, tmp_path / "small", max_cache_bytes=size // 2)
    assert small.compose(1001, 1).wav
    assert small.cache_usage() == (0, 0)


def test_memory_cache_is_capped_by_count_and_bytes(composer: VoiceComposer, tmp_path: Path) -> None:
    size = len(composer.compose(1001, 1).wav)
    comp = warm_composer(composer, tmp_path, memory_cache=100, memory_bytes=int(size * 3.5))
    for n in range(1001, 1021):
        comp.compose(n, 1)
    assert len(comp._composed) <= 3 and comp._composed_bytes <= size * 3.5
    comp = warm_composer(composer, tmp_path / "b", memory_cache=4)
    for n in range(1001, 1021):
        comp.compose(n, 1)
    assert len(comp._composed) == 4


def enospc(*_args, **_kwargs):
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_still_announces_from_memory(
    composer: VoiceComposer, tmp_path: Path, monkeypatch
) -> None:
    """A cache write failing with ENOSPC (simulated here by making os.replace fail; the real
    file system is in tests/test_display_routes.py) leaves no temp file and the announcement
    is still served, from memory; `cache_full` says why."""
    comp = warm_composer(composer, tmp_path)
    monkeypatch.setattr(voice.os, "replace", enospc)
    audio = comp.compose(1234, 5)
    assert duration(audio.wav) > 3.0 and audio.source == "clips"
    assert comp.cache_full and composed_files(comp) == []
    monkeypatch.undo()
    comp.compose(1235, 5)  # room again: cached, and the flag clears
    assert not comp.cache_full and len(composed_files(comp)) == 1


def test_full_disk_synthesises_clips_in_memory(tmp_path: Path, monkeypatch) -> None:
    """With no clip cached and no room to write one, espeak-ng's clips come through its
    stdout instead of a file: the hall is not silenced by a full disk."""
    comp = VoiceComposer(cache_dir=tmp_path)
    monkeypatch.setattr(voice, "espeak_synthesize", enospc)
    monkeypatch.setattr(voice.os, "replace", enospc)
    audio = comp.compose(2005, 12)
    assert duration(audio.wav) > 3.0
    assert comp.cache_full
    assert not list(tmp_path.rglob("*.wav")) and not list(tmp_path.rglob("*.tmp"))
