"""The kiosk's voice guidance: one sentence at a time, spoken with espeak-ng (no Kivy).

The accessible mode says what each screen is for and what to touch next. `Speaker.say(text)`
returns at once; a worker thread speaks the newest sentence and stops the one still
playing (a citizen who has moved on must not hear the previous step). Speech goes to the
kiosk's speaker through `espeak-ng -v vi` (its own audio output, or `--stdout` piped into
`player`, e.g. "aplay -q"), or, with `out_dir` set, into numbered WAV files there
(recordings, tests on a machine with no sound card).

Limits: a sentence is cut to `MAX_CHARS` characters; `spoken` keeps the last `LOG_SIZE`.
The board's voice (display_board/voice.py) is a layer the kiosk may not import; this is
the kiosk's own small helper around the same espeak-ng command (RECIPES.md: always `-v vi`).
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
import threading
from pathlib import Path

from common.text import nfc

log = logging.getLogger("qms.kiosk.voice")

MAX_CHARS = 400  # one step's guidance; longer text is cut at a word
LOG_SIZE = 50
SPEED = 140  # words per minute: espeak-ng's 175 is fast for a first-time listener
VOICES = {"vi": "vi", "en": "en"}
TIMEOUT_S = 60


def clean(text: str) -> str:
    """One line, NFC, at most MAX_CHARS characters (cut at a word)."""
    text = " ".join(nfc(text or "").split())
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0]
    return text


class Speaker:
    def __init__(self, out_dir: str | Path | None = None, player: str | None = None,
                 speed: int = SPEED, exe: str | None = None):
        self.exe = exe or shutil.which("espeak-ng")
        self.out_dir = Path(out_dir) if out_dir else None
        self.player = shlex.split(player) if player else None
        self.speed = int(speed)
        self.spoken: list[dict] = []  # {"text", "lang", "wav"}: what was said, newest last
        self._cond = threading.Condition()
        self._next: tuple[str, str] | None = None
        self._procs: list[subprocess.Popen] = []
        self._stopped = False
        self._count = 0
        self._thread = threading.Thread(target=self._work, name="kiosk-voice", daemon=True)
        self._thread.start()

    @property
    def available(self) -> bool:
        return self.exe is not None

    def say(self, text: str, lang: str = "vi") -> None:
        """Speak `text` soon, interrupting what is being said."""
        text = clean(text)
        if not text or not self.available:
            return
        with self._cond:
            self._next = (text, lang)
            self._kill()
            self._cond.notify()

    def history(self) -> list[dict]:
        """A copy of `spoken` (it is appended to on the voice thread)."""
        with self._cond:
            return list(self.spoken)

    def silence(self) -> None:
        """Stop speaking now (leaving the accessible mode, idle)."""
        with self._cond:
            self._next = None
            self._kill()

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._next = None
            self._kill()
            self._cond.notify()

    def _kill(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                text, lang = self._next
                self._next = None
                self._count += 1
                n = self._count
            try:
                wav = self._speak(text, lang, n)
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("voice guidance failed: %s", exc)
                continue
            if wav is None:  # a newer sentence came first
                continue
            with self._cond:
                self.spoken.append({"text": text, "lang": lang, "wav": wav})
                del self.spoken[:-LOG_SIZE]

    def _speak(self, text: str, lang: str, n: int) -> str | None:
        cmd = [self.exe, "-v", VOICES.get(lang, "vi"), "-s", str(self.speed)]
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / f"{n:04d}.wav"
            return str(path) if self._run([cmd + ["-w", str(path), "--", text]]) else None
        if self.player:
            ran = self._run([cmd + ["--stdout", "--", text], self.player])
        else:
            ran = self._run([cmd + ["--", text]])
        return "" if ran else None

    def _run(self, cmds: list[list[str]]) -> bool:
        """Run one command, or a pipe of two, killable by `say` and `silence`; False when
        a newer sentence (or `silence`) came before it started."""
        with self._cond:
            if self._next is not None or self._stopped:
                return False
            first = subprocess.Popen(cmds[0], stdout=subprocess.PIPE if len(cmds) > 1
                                     else subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs = [first]
            if len(cmds) > 1:
                procs.append(subprocess.Popen(cmds[1], stdin=first.stdout,
                                              stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
                first.stdout.close()
            self._procs = procs
        try:
            for proc in procs:
                proc.wait(TIMEOUT_S)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return True
