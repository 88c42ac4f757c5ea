"""`qms init --demo`'s sign-in message (issue #16, demo): it names the counters `qms demo`'s
simulated day staffs, the same list tools/demo_run.py passes to the simulator, and the
counters a person can sign in at."""

from __future__ import annotations

from server import demo
from server.setup import DEMO_SIMULATED_COUNTERS, demo_sign_in_lines
from tools.demo_run import SIMULATED_COUNTERS


def expand(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def test_the_message_names_the_demo_runs_simulated_counters():
    assert list(DEMO_SIMULATED_COUNTERS) == expand(SIMULATED_COUNTERS)
    assert set(DEMO_SIMULATED_COUNTERS) <= set(demo.COUNTER_TEAMS)


def test_the_message_says_where_a_person_can_sign_in():
    signins, simulated = demo_sign_in_lines()
    assert "canbo01..canbo23/demo1234" in signins
    assert "simulates counters 1-4, 9, 22-23" in simulated
    assert "sign in at counters 5-8, 10-21 (e.g. canbo05)" in simulated
    assert "--no-simulate" in simulated
