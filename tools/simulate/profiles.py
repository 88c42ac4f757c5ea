"""Day profiles for the simulator: when citizens arrive, what they come for, how long the
officers take and how citizens behave.

Times are simulated seconds since local midnight (Asia/Ho_Chi_Minh). Everything random is
drawn from one `random.Random(seed)`, so a seed replays the same day.

The `bac-ninh` profile models a provincial centre like Bắc Ninh's (23 counters, 6 teams):
~235 tickets on an average day, 2,000+ on a peak day; a morning peak 8–10h, a smaller
afternoon after 13:30; civil status (Hộ tịch) and certification (Chứng thực) dominate, then
land, business registration, driving licences, residence and identity, construction.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from common.vocabulary import PRIORITY_CLASSES

# (start, end, relative arrivals per hour) — opening hours 07:30–11:30, 13:30–17:00
BAC_NINH_HOURS = [
    ("07:30", "08:00", 0.9), ("08:00", "09:00", 1.9), ("09:00", "10:00", 1.7),
    ("10:00", "11:00", 1.1), ("11:00", "11:30", 0.5),
    ("13:30", "14:00", 0.6), ("14:00", "15:00", 1.0), ("15:00", "16:00", 0.8),
    ("16:00", "17:00", 0.4),
]

# field (lĩnh vực) -> share of tickets; fields not listed share DEFAULT_FIELD_WEIGHT each
BAC_NINH_FIELDS = {
    "Hộ tịch": 19.0, "Chứng thực": 17.0, "Đất đai": 12.0,
    "Thành lập và hoạt động của doanh nghiệp": 7.0,
    "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh)": 4.0,
    "Sát hạch, cấp giấy phép lái xe": 6.0, "Đăng ký, quản lý cư trú": 5.0,
    "Cấp, quản lý căn cước": 4.0, "Hoạt động xây dựng": 4.0, "Đầu tư tại Việt Nam": 1.5,
    "Người có công": 1.5, "Thực hiện chính sách BHXH": 1.5, "Việc làm": 1.5,
    "Lý lịch tư pháp": 1.5, "Đường bộ": 1.5, "Bảo trợ xã hội": 1.0,
    "Đăng ký, quản lý phương tiện giao thông cơ giới, xe máy chuyên dùng": 1.0,
    "Quản lý xuất nhập cảnh": 1.0, "Lưu thông hàng hóa trong nước": 1.0,
    "Nhà ở và công sở": 1.0, "Giáo dục và Đào tạo": 1.0, "Công chứng": 0.8,
}
DEFAULT_FIELD_WEIGHT = 0.15

# team -> median service time (s); lognormal with sigma SERVICE_SIGMA; 7 and 8 are the
# demo centre's fee desk (paying at the bank or treasury desk) and result-return counter
BAC_NINH_SERVICE = {1: 330, 2: 720, 3: 600, 4: 480, 5: 420, 6: 300, 7: 150, 8: 180}
SERVICE_SIGMA = 0.5

# share of each priority class among priority citizens, in PRIORITY_CLASSES' order
PRIORITY_MIX = dict(zip(PRIORITY_CLASSES, (0.45, 0.1, 0.2, 0.15, 0.1), strict=True))
RATING_MIX = {4: 0.60, 3: 0.31, 2: 0.07, 1: 0.02}


def hhmm(text: str) -> int:
    """'08:30' -> seconds since midnight."""
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def clock_text(sim_s: float) -> str:
    s = int(sim_s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Profile:
    name: str
    title: str
    hours: list[tuple[str, str, float]]
    loads: dict[str, int]
    fields: dict[str, float]
    service_median_s: dict[int, float]
    service_sigma: float = SERVICE_SIGMA
    no_show: float = 0.05
    transfer: float = 0.03
    recall: float = 0.10  # citizen comes only after one recall
    priority: float = 0.07
    rate: float = 0.85
    ratings: dict[int, float] = field(default_factory=lambda: dict(RATING_MIX))
    break_chance: float = 0.5  # per officer per half-day
    break_min_s: tuple[int, int] = (600, 1200)
    reaction_s: tuple[int, int] = (4, 20)  # officer notices a new ticket
    walk_s: tuple[int, int] = (15, 60)  # citizen walks to the counter after the call
    recall_after_s: tuple[int, int] = (45, 90)

    # -- arrivals ---------------------------------------------------------------------------
    def day_total(self, day_load: str | int) -> int:
        if isinstance(day_load, int) or str(day_load).isdigit():
            return int(day_load)
        if day_load not in self.loads:
            raise ValueError(f"day load must be a number or one of {', '.join(self.loads)}")
        return self.loads[day_load]

    def segments(self) -> list[tuple[int, int, float]]:
        """(start_s, end_s, share of the day's tickets) for each opening segment."""
        raw = [(hhmm(a), hhmm(b), w * (hhmm(b) - hhmm(a)) / 3600) for a, b, w in self.hours]
        total = sum(w for _, _, w in raw)
        return [(a, b, w / total) for a, b, w in raw]

    def arrivals(self, rng: random.Random, day_load: str | int, start_s: int,
                 end_s: int) -> list[float]:
        """Arrival times in [start_s, end_s): a Poisson process whose rate follows the hours."""
        total = self.day_total(day_load)
        times: list[float] = []
        for a, b, share in self.segments():
            lo, hi = max(a, start_s), min(b, end_s)
            if hi <= lo:
                continue
            expected = total * share * (hi - lo) / (b - a)
            n = poisson(rng, expected)
            times.extend(rng.uniform(lo, hi) for _ in range(n))
        return sorted(times)

    def is_open(self, sim_s: float) -> bool:
        return any(hhmm(a) <= sim_s < hhmm(b) for a, b, _ in self.hours)

    def opening(self) -> tuple[int, int]:
        return hhmm(self.hours[0][0]), hhmm(self.hours[-1][1])

    # -- behaviour --------------------------------------------------------------------------
    def service_s(self, rng: random.Random, team_id: int) -> float:
        median = self.service_median_s.get(team_id, 480)
        return min(max(rng.lognormvariate(math.log(median), self.service_sigma), 60), 3600)

    def priority_class(self, rng: random.Random) -> str | None:
        if rng.random() >= self.priority:
            return None
        return weighted(rng, PRIORITY_MIX)

    def rating(self, rng: random.Random) -> int | None:
        if rng.random() >= self.rate:
            return None
        return weighted(rng, self.ratings)

    def breaks(self, rng: random.Random) -> list[tuple[float, float]]:
        """(start, length) of one officer's breaks: maybe one per half-day."""
        out = []
        for lo, hi in (("09:15", "11:00"), ("14:15", "16:15")):
            if rng.random() < self.break_chance:
                out.append((rng.uniform(hhmm(lo), hhmm(hi)), rng.uniform(*self.break_min_s)))
        return out


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation for large)."""
    if lam <= 0:
        return 0
    if lam > 60:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class ProcedureMix:
    """Which procedure a citizen comes for: a field by the profile's weights, then a
    procedure of that field, the first ones (the common ones: khai sinh, kết hôn...) more
    often (Zipf-like by their order in the catalogue)."""

    def __init__(self, procedures: list[dict], field_weights: dict[str, float]):
        by_field: dict[str, list[dict]] = {}
        for p in procedures:
            if p.get("team_id") is None:
                continue
            by_field.setdefault(p.get("field") or "", []).append(p)
        if not by_field:
            raise ValueError("no procedures with a team: import a catalogue first")
        self.items: list[dict] = []
        self.weights: list[float] = []
        for name, procs in by_field.items():
            share = field_weights.get(name, DEFAULT_FIELD_WEIGHT)
            ranks = [1 / (i + 1) ** 1.1 for i in range(len(procs))]
            norm = sum(ranks)
            for p, r in zip(procs, ranks, strict=True):
                self.items.append(p)
                self.weights.append(share * r / norm)

    def pick(self, rng: random.Random) -> dict:
        return rng.choices(self.items, weights=self.weights)[0]

    def team_shares(self) -> dict[int, float]:
        total = sum(self.weights)
        out: dict[int, float] = {}
        for p, w in zip(self.items, self.weights, strict=True):
            out[p["team_id"]] = out.get(p["team_id"], 0) + w / total
        return out


PROFILES = {
    "bac-ninh": Profile(
        name="bac-ninh", title="Trung tâm PVHCC tỉnh Bắc Ninh (23 quầy, 6 tổ)",
        hours=BAC_NINH_HOURS, loads={"average": 235, "busy": 800, "peak": 2100},
        fields=BAC_NINH_FIELDS, service_median_s=BAC_NINH_SERVICE),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; one of {', '.join(PROFILES)}") from None
