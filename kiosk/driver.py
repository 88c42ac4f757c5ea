"""Scripted touches on the real kiosk (tests, screenshots, demos): `qms kiosk --script S.json`.

The script is JSON ``{"out": "result.json", "steps": [...]}``; each step is one of::

    {"wait": {"ready": true} | {"screen": "home"} | {"text": "Máy in hết giấy"}
             | {"spoken": "Lấy số"}
             | {"attr": "print_state", "value": "printed"} | {"file": "/tmp/go"},
     "timeout": 10}
    {"touch": {"id": "search_box"} | {"text": "Đăng ký khai sinh"} | {"key": "a"}
              | {"screen_centre": true}}
    {"double_touch": {...}}       two taps on the same widget in consecutive frames
    {"type": "khai sinh"}         key by key on the on-screen keyboard (counted as keys)
    {"scan": "001…|…", "gap_ms": 3, "enter": true}   the USB QR scanner: key events typed
                                  into the window `gap_ms` apart, then Enter
    {"screenshot": "path.png"}    taken from on_flip (a Clock callback would be black)
    {"dump": "name"}              records the screen, its texts and the app state
    {"write": "/tmp/flag"}        tells the test process something happened
    {"sleep": 0.5}
    {"drag": {"id": "scroll", "dy": 200}}   a finger dragged up (dy > 0) or down the widget
    {"idle": {"home": 2, "saver": 3, "ticket": 2}}   shorter idle timers

Touches go through the window's input dispatch (kivy's UnitTestTouch), like a finger.
The result file gets: ok, error, touches (not counting keyboard keys), keys, per-key
search+redraw times, dumps. The app stops when the script ends or a step times out.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.button import Button
from kivy.uix.label import Label

from common.text import fold

log = logging.getLogger("qms.kiosk.driver")


def _visible(w) -> bool:
    while w is not None:
        if w.opacity == 0 or getattr(w, "disabled", False):
            return False
        if w.parent is w:
            break
        w = w.parent
    return True


def _whole_height(w) -> float:
    """The height `w`'s text takes wrapped to its text width, with no line dropped."""
    from kivy.core.text import Label as CoreLabel

    width = w.text_size[0] if w.text_size[0] else None
    label = CoreLabel(text=w.text, font_size=w.font_size, bold=w.bold, font_name=w.font_name,
                      text_size=(width, None), padding=w.padding, halign=w.halign)
    label.refresh()
    return float(label.texture.height)


class Driver:
    def __init__(self, app, script: dict, base: Path):
        self.app = app
        self.steps = list(script.get("steps") or [])
        self.out = Path(script.get("out") or base / "result.json")
        self.result: dict = {"ok": False, "error": None, "touches": 0, "keys": 0,
                             "key_ms": [], "dumps": {}, "steps_done": 0, "screens": []}
        self.i = 0
        self.started = 0.0
        self.pending_double = None
        self.pending_drag: list = []  # the rest of a drag: one finger move per frame
        self.shot_done = False
        self.settle = 0  # frames to let layout catch up after a touch

    # -- helpers ---------------------------------------------------------------------------
    @property
    def screen(self):
        return self.app.sm.current_screen

    def texts(self) -> list[str]:
        return [w.text for w in self.screen.walk() if isinstance(w, Label) and w.text
                and _visible(w)]

    def find(self, target: dict):
        if target.get("screen_centre"):
            return self.screen
        if "key" in target:
            return self.screen.keys.get(target["key"])
        if "id" in target:
            w = self.screen.ids.get(target["id"])
            return w if w is not None and _visible(w) else None
        want = fold(target["text"])
        best = None
        for w in self.screen.walk():
            if isinstance(w, Button) and _visible(w) and want in fold(w.text):
                if best is None or len(w.text) < len(best.text):
                    best = w
        return best

    def drag(self, w, dy: float, steps: int = 8) -> None:
        """Touch down at the widget's centre (less half the way), then one move per frame
        and lift at the end (all moves in one frame would make a fling)."""
        from kivy.tests.common import UnitTestTouch

        x, y = w.to_window(*w.center)
        y -= dy / 2
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pending_drag = [touch, *[(x, y + dy * i / steps) for i in range(1, steps + 1)],
                             (x, y + dy)]

    def layout(self) -> list[dict]:
        """The visible labels and buttons of the screen: text, size, colours, place."""
        from kivy.metrics import sp

        out = []
        for w in self.screen.walk():
            if not isinstance(w, Label) or not w.text or not _visible(w):
                continue
            x, y = w.to_window(w.x, w.y)
            item = {"text": w.text, "button": isinstance(w, Button),
                    "font_sp": round(float(w.font_size) / sp(1), 1), "color": list(w.color),
                    "x": x, "y": y, "width": w.width, "height": w.height}
            if isinstance(w, Button):
                item["bg"] = list(w.background_color)
            # Kivy drops the lines that do not fit a label's text_size: measure the text
            # whole and compare (a cut-off tile or number shows here)
            item["text_height"], item["room_height"] = _whole_height(w), (
                w.text_size[1] if w.text_size[1] else w.height)
            if getattr(w, "full_text", ""):
                item["full_text"] = w.full_text
            out.append(item)
        return out

    def tap(self, w) -> None:
        from kivy.tests.common import UnitTestTouch

        x, y = w.to_window(*w.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    # -- the loop --------------------------------------------------------------------------
    def start(self, *_):
        Clock.schedule_interval(self.poll, 0)

    def poll(self, _dt):
        if self.pending_drag:  # a drag spans frames, like a finger (a fling otherwise)
            touch, (x, y) = self.pending_drag[0], self.pending_drag.pop(1)
            if len(self.pending_drag) > 1:
                touch.touch_move(x, y)
            else:
                touch.touch_up()
                self.pending_drag = []
            return
        if self.pending_double is not None:
            w, self.pending_double = self.pending_double, None
            self.tap(w)
            self.result["touches"] += 1
            return
        if self.settle:
            self.settle -= 1
            return
        if self.i >= len(self.steps):
            self.finish(True)
            return False
        step = self.steps[self.i]
        if not self.started:
            self.started = time.monotonic()
            self.shot_done = False
        try:
            done = self.run_step(step)
        except Exception as exc:  # report, screenshot, stop
            log.exception("driver step failed")
            self.result["error"] = f"step {self.i} {step}: {exc!r}"
            self.finish(False)
            return False
        if done:
            self.result["steps_done"] = self.i = self.i + 1
            self.started = 0.0
        elif time.monotonic() - self.started > float(step.get("timeout", 10)):
            self.result["error"] = (f"step {self.i} {step} timed out on screen "
                                    f"{self.app.sm.current}: {self.texts()[:12]}")
            self.finish(False)
            return False

    def run_step(self, step: dict) -> bool:
        app = self.app
        if "wait" in step:
            cond = step["wait"]
            if cond.get("ready"):
                return bool(app.ready and app.queue.known)
            if "screen" in cond:
                return app.sm.current == cond["screen"]
            if "text" in cond:
                want = fold(cond["text"])
                return any(want in fold(t) for t in self.texts())
            if "attr" in cond:
                return getattr(app, cond["attr"]) == cond["value"]
            if "file" in cond:
                return os.path.exists(cond["file"])
            if "spoken" in cond:  # the voice guidance has said this
                want = fold(cond["spoken"])
                return any(want in fold(x["text"]) for x in app.speaker.history())
            raise ValueError(f"unknown wait {cond}")
        if "touch" in step or "double_touch" in step:
            target = step.get("touch") or step["double_touch"]
            w = self.find(target)
            if w is None:
                return False
            self.tap(w)
            self.result["keys" if "key" in target else "touches"] += 1
            if "double_touch" in step:
                self.pending_double = w
            self.settle = 2
            self.result["screens"].append(app.sm.current)
            return True
        if "drag" in step:
            target = step["drag"]
            w = self.find(target)
            if w is None:
                return False
            self.drag(w, float(target.get("dy", 200)))
            self.settle = 3
            return True
        if "type" in step:
            for ch in step["type"]:
                w = self.find({"key": "space" if ch == " " else ch})
                if w is None:
                    raise ValueError(f"no key {ch!r} on screen {app.sm.current}")
                t0 = time.perf_counter()
                self.tap(w)
                self.result["key_ms"].append((time.perf_counter() - t0) * 1000)
                self.result["keys"] += 1
            return True
        if "scan" in step:
            # a keyboard-wedge scanner: text events a few ms apart (the loop is held, as
            # when a burst of key events arrives between two frames), then Enter
            gap = float(step.get("gap_ms", 3)) / 1000
            for ch in step["scan"]:
                if ch in "\r\n":
                    Window.dispatch("on_key_down", 13, 40, None, [])
                else:
                    Window.dispatch("on_textinput", ch)
                time.sleep(gap)
            if step.get("enter", True):
                Window.dispatch("on_key_down", 13, 40, None, [])
            return True
        if "screenshot" in step:
            if not self.shot_done and not getattr(self, "_shot_bound", False):
                self._shot_path = step["screenshot"]
                self._shot_bound = True
                Window.bind(on_flip=self._on_flip)
                Window.canvas.ask_update()
            return self.shot_done
        if "dump" in step:
            self.result["dumps"][step["dump"]] = self.dump()
            return True
        if "write" in step:
            Path(step["write"]).write_text(json.dumps(self.dump(), ensure_ascii=False))
            return True
        if "sleep" in step:
            return time.monotonic() - self.started >= float(step["sleep"])
        if "idle" in step:
            idle = step["idle"]
            app.idle.home_after_s = idle.get("home", app.idle.home_after_s)
            app.idle.saver_after_s = idle.get("saver", app.idle.saver_after_s)
            app.idle.ticket_after_s = idle.get("ticket", app.idle.ticket_after_s)
            return True
        raise ValueError(f"unknown step {step}")

    def _on_flip(self, *_):
        Window.unbind(on_flip=self._on_flip)
        self._shot_bound = False
        path = Path(self._shot_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        made = Window.screenshot(name=str(path.with_suffix("")) + "-tmp.png")
        if made:
            shutil.move(made, path)
        self.shot_done = True

    def dump(self) -> dict:
        app, flow = self.app, self.app.flow
        spoken = app.speaker.history() if app.speaker else []
        return {"screen": app.sm.current, "texts": self.texts(), "ticket": dict(app.ticket),
                # screens really in the widget tree (what is drawn and gets touches)
                "shown": [getattr(w, "name", "?") for w in app.sm.children],
                "print_state": app.print_state, "print_message": app.print_message,
                "error_code": app.error_code, "flow_state": flow.state,
                "taps_ignored": flow.taps_ignored,
                "attempts": flow.intent.attempts if flow.intent else 0,
                "key": flow.intent.key if flow.intent else None,
                "touches": self.result["touches"], "keys": self.result["keys"],
                "lang": app.lang, "live": app.live, "priority": app.priority,
                "clock_text": app.clock_text,
                "catalogue_loads": getattr(app, "catalogue_loads", 0),
                "visit": app.visit_dump() if hasattr(app, "visit_dump") else {},
                "waiting": {t.id: t.waiting for t in app.queue.teams.values()},
                "access": app.access,
                "spoken": [x["text"] for x in spoken], "wavs": [x["wav"] for x in spoken],
                "window": list(Window.size), "layout": self.layout(),
                "results_visible": (self.screen.visible_results()
                                    if hasattr(self.screen, "visible_results") else None)}

    def finish(self, ok: bool) -> None:
        Clock.unschedule(self.poll)
        self.result["ok"] = ok and not self.result["error"]
        self.result["final"] = self.dump()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.result, ensure_ascii=False, indent=1))
        self.app.exit_code = 0 if self.result["ok"] else 1
        if not ok:
            try:
                Window.screenshot(name=str(self.out.with_suffix("")) + "-failure.png")
            except Exception:  # best effort
                pass
        Clock.schedule_once(lambda *_: self.app.stop(), 0)


def attach(app, script_path: str) -> Driver:
    path = Path(script_path)
    script = json.loads(path.read_text(encoding="utf-8"))
    driver = Driver(app, script, path.parent)

    def on_start(*_):  # must return None, or App.on_start itself is skipped
        Clock.schedule_once(driver.start, 0.1)

    app.bind(on_start=on_start)
    return driver
