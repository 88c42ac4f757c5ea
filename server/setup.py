"""Setting up a centre's data folder: the configuration, the database, the demo centre.

Functions, not commands: the `qms` command line, the demo runner, the simulator, the tests
and the benchmarks all call these instead of running the command line with an argv list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from . import config as centre_config
from . import demo
from .auth import Accounts
from .importer import import_procedures
from .service import QueueService, utcnow
from .storage import DB_NAME, Store

SAMPLE_CSV = Path(__file__).parent / "data" / "procedures-sample.csv"
DEMO_ROLE_PASSWORDS = {"admin": "demo-admin", "manager": "demo-manager"}
#: the counters `qms demo`'s simulated day staffs (tools/demo_run.py SIMULATED_COUNTERS):
#: a person trying the demo signs in at another one
DEMO_SIMULATED_COUNTERS = (1, 2, 3, 4, 9, 22, 23)


def open_store(data_dir: Path, *, create: bool = False) -> tuple[Store, centre_config.Config]:
    """The centre's store (migrated) and configuration in `data_dir`. A centre whose
    database is gone is refused (`DatabaseMissing`) unless `create` (`qms init`): a lost
    database is never silently replaced by a blank one."""
    data_dir = Path(data_dir)
    return Store(data_dir / DB_NAME, create=create), centre_config.load(data_dir)


def accounts(data_dir: Path) -> Accounts:
    """The accounts service over the centre in `data_dir` (for `qms user add`, `qms device
    add`): its commands write through the centre's one write path."""
    store, cfg = open_store(data_dir)
    return Accounts(store, utcnow, QueueService(store, cfg))


def demo_password(role: str) -> str:
    return DEMO_ROLE_PASSWORDS.get(role, demo.DEMO_PASSWORD)


def _ranges(numbers) -> str:
    """Counter numbers as short ranges: [1, 2, 3, 4, 9, 22, 23] -> "1-4, 9, 22-23"."""
    parts: list[str] = []
    for n in sorted(numbers):
        if parts and parts[-1][1] == n - 1:
            parts[-1] = (parts[-1][0], n)
        else:
            parts.append((n, n))
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def demo_sign_in_lines() -> list[str]:
    """What `qms init --demo` says about signing in: every officer canboNN signs in at
    counter NN, and which counters a person can take while `qms demo` runs its simulated
    day (DEMO_SIMULATED_COUNTERS, the list tools/demo_run.py staffs; a test keeps the two
    equal)."""
    counters = sorted(demo.COUNTER_TEAMS)
    free = [n for n in counters if n not in DEMO_SIMULATED_COUNTERS]
    first, last = counters[0], counters[-1]
    return [
        "demo sign-ins: admin/demo-admin, giamdoc/demo-manager, officers "
        f"canbo{first:02d}..canbo{last:02d}/{demo.DEMO_PASSWORD} (canboNN at counter NN)",
        f"`qms demo` simulates counters {_ranges(DEMO_SIMULATED_COUNTERS)}: sign in at "
        f"counters {_ranges(free)} (e.g. canbo{free[0]:02d}), or run `qms demo --no-simulate` "
        "to use them all",
    ]


def init_centre(data_dir: Path, *, demo_centre: bool = False, force: bool = False,
                public_url: str = "http://127.0.0.1:5000",
                say: Callable[[str], None] = lambda _line: None,
                site: str | None = None) -> dict[str, str]:
    """Create `centre.toml` (unless present and not `force`) and the database (with its
    random epoch, migration m010; `site` names the site it serves for the province); with
    `demo_centre`, load the demo centre: 349 procedures, users and device tokens (returned,
    and written to demo-tokens.json)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = data_dir / "centre.toml"
    if cfg_path.exists() and not force:
        say(f"{cfg_path} already exists (use --force to overwrite the configuration)")
    else:
        cfg = (demo.demo_config(public_url) if demo_centre
               else centre_config.Config(public_url=public_url))
        cfg.save(cfg_path)
        say(f"wrote {cfg_path}")
    existed = (data_dir / DB_NAME).exists()
    store, cfg = open_store(data_dir, create=True)  # on purpose: `qms init`
    say(f"database {store.path} {'ready' if existed else 'created'}")
    if site:
        from .storage import identity

        ident = identity.set_site(store, site)
        say(f"site {ident['site']}, epoch {ident['epoch']}")
    tokens: dict[str, str] = {}
    if demo_centre:
        # Seeding a new centre: every row goes through the service commands (rows and audit
        # rows in one transaction each) but announces nothing, so the centre's event log
        # starts with its first ticket.
        queue = QueueService(store, cfg)
        n = import_procedures(store, cfg, SAMPLE_CSV, documents=demo.DOCUMENTS, queue=queue,
                              actor="setup", announce=False)
        say(f"imported {n} procedures")
        acc = Accounts(store, utcnow, queue)
        for u in demo.demo_users():
            acc.add_user(u["username"], u["role"], demo_password(u["role"]),
                         u.get("counters", []), u["full_name"], actor="setup",
                         announce=False)
        tokens = {name: acc.add_device(name, kind, counters, actor="setup",
                                       announce=False)[1]["token"]
                  for name, kind, counters in demo.DEMO_DEVICES}
        (data_dir / "demo-tokens.json").write_text(json.dumps(tokens, indent=2))
        for line in demo_sign_in_lines():
            say(line)
        say(f"device tokens written to {data_dir / 'demo-tokens.json'}")
    store.close()
    return tokens


def init_demo_centre(data_dir: Path, public_url: str = "http://127.0.0.1:5000") -> dict[str, str]:
    """The demo centre in a fresh (or reused) folder; its device tokens."""
    return init_centre(data_dir, demo_centre=True, force=True, public_url=public_url)
