"""Reconnect loop and state reporting, over a real pty and over the fake link."""

import threading

from hardware.emulators.pty_device import PtyDevice
from hardware.fake_link import FakeLink
from hardware.link import LinkError
from hardware.serial_link import parse_serial_url
from hardware.supervisor import SupervisedDevice
from hardware.transports import open_link


class Echo(SupervisedDevice):
    def __init__(self, url, **kw):
        self.got = bytearray()
        self.opened = 0
        self.cond = threading.Condition()
        super().__init__("echo", url, **kw)

    def on_open(self):
        self.opened += 1

    def on_data(self, data):
        with self.cond:
            self.got += data
            self.cond.notify_all()


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, name, online, detail):
        with self.cond:
            self.events.append((name, online, detail))
            self.cond.notify_all()

    def wait(self, n, timeout=5):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.events) >= n, timeout)


def test_parse_serial_url():
    assert parse_serial_url("/dev/ttyUSB0") == ("/dev/ttyUSB0", {})
    port, opts = parse_serial_url("serial:///dev/ttyS1?baudrate=19200&parity=e&stopbits=2")
    assert (port, opts) == ("/dev/ttyS1", {"baudrate": 19200, "parity": "E", "stopbits": 2})


def test_open_link_missing_port_raises_link_error():
    try:
        open_link("/nonexistent/tty")
    except LinkError as exc:
        assert "cannot open" in str(exc)
    else:
        raise AssertionError("expected LinkError")


def test_pty_unplug_replug_reports_states_and_reconnects():
    rec = Recorder()
    with PtyDevice(name="echo") as pty:
        dev = Echo(pty.url, listener=rec, backoff_initial=0.02, backoff_max=0.1)
        assert dev.wait_online(True)
        pty.send(b"hello")
        with dev.cond:
            assert dev.cond.wait_for(lambda: dev.got == b"hello", 3)
        dev.send(b"ping")
        assert pty.wait_for(lambda: pty.received == b"ping")
        pty.unplug()
        assert dev.wait_online(False)
        pty.replug()
        assert dev.wait_online(True)
        dev.send(b"again")
        assert pty.wait_for(lambda: pty.received.endswith(b"again"))
        dev.close()
        dev.close()  # idempotent
    assert [e[1] for e in rec.events] == [True, False, True, False]
    assert all(e[0] == "echo" for e in rec.events)
    assert dev.opened == 2 and dev.reconnects == 1


def test_backoff_grows_and_caps():
    dev = Echo("fake:never", autostart=False, backoff_initial=0.1, backoff_max=0.5)
    assert [dev._backoff(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_missing_device_reported_offline_once_then_online():
    rec = Recorder()
    fake = FakeLink.get("sup-late")
    fake.unplug()
    dev = Echo("fake:sup-late", listener=rec, backoff_initial=0.01, backoff_max=0.02)
    assert rec.wait(1)
    fake.replug()
    assert dev.wait_online(True)
    dev.close()
    assert [e[1] for e in rec.events] == [False, True, False]


def test_frames_written_while_offline_are_sent_after_reconnect():
    fake = FakeLink.get("sup-queue")
    dev = Echo("fake:sup-queue", backoff_initial=0.01)
    assert dev.wait_online(True)
    fake.unplug()
    assert dev.wait_online(False)
    dev.send(b"queued")
    fake.replug()
    assert fake.wait_written(lambda b: b.endswith(b"queued"))
    dev.close()
