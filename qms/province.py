"""The province's subcommands of `qms` (wired into qms/cli.py's parser):

  qms site                              this hall's site id and epoch (read-only)
  qms sync [--once] [--status] [--save --central URL --token T]
  qms backup DEST / qms restore SRC     SQLite online backup / restore (new epoch)
  qms central init|serve|migrate|rollup|site ...|user add|bundle ...
  qms province-demo                     central + three sites with simulated days
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

CENTRAL_DIR_DEFAULT = os.environ.get("QMS_CENTRAL_DIR", "var/central")


# -- the hall side ---------------------------------------------------------------------------
def cmd_site(args) -> int:
    from server.setup import open_store
    from server.storage import identity

    store, _cfg = open_store(Path(args.data_dir))
    try:
        print(json.dumps(identity.identity(store), indent=1))
    finally:
        store.close()
    return 0


def cmd_sync(args) -> int:
    from sync import main as sync_main

    if args.status:
        return sync_main.status(Path(args.data_dir))
    return sync_main.run(Path(args.data_dir), central=args.central, token=args.token,
                         once=args.once, save=args.save, verbose=args.verbose)


def cmd_backup(args) -> int:
    from server.storage import backup

    out = backup.backup(Path(args.data_dir), Path(args.dest), keep=args.keep)
    print(f"backup written to {out}")
    return 0


def cmd_restore(args) -> int:
    from server.storage import backup

    info = backup.restore(Path(args.source), Path(args.data_dir), force=args.force)
    print(f"restored {info['path']} (site {info['site']}, new epoch {info['epoch']}); "
          "the central server will flag the new epoch: accept it there after checking")
    return 0


# -- the central server ----------------------------------------------------------------------
def _central_store(args):
    from central.admin import open_store

    return open_store(Path(args.central_dir), args.dsn)


def cmd_central(args) -> int:
    from central import admin

    action = args.central_cmd
    if action == "init":
        rev = admin.init(Path(args.central_dir), args.dsn or "", args.name)
        print(f"central store at schema revision {rev}; settings in "
              f"{Path(args.central_dir) / 'central.toml'}")
        return 0
    if action == "migrate":
        from central.config import load
        from central.storage import migrate

        cfg = load(Path(args.central_dir))
        print(f"schema revision {migrate(args.dsn or cfg.dsn)}")
        return 0
    if action == "serve":
        from central import create_app
        from central.serving import run

        app = create_app({"DATA_DIR": args.central_dir, "DSN": args.dsn})
        return run(app, args.host, args.port, threads=args.threads, verbose=args.verbose)
    store, cfg = _central_store(args)
    try:
        if action == "rollup":
            print(f"rolled up {admin.roll_up(store, cfg)} month(s)")
        elif action == "site":
            return _site_action(args, store)
        elif action == "user":
            admin.add_user(store, args.name, args.role, args.password, args.site,
                           args.full_name or "")
            print(f"user {args.name} ({args.role}{' of ' + args.site if args.site else ''}) "
                  "saved")
        elif action == "bundle":
            if args.kind == "catalogue":
                out = admin.publish_catalogue(store, Path(args.file))
            else:
                out = admin.publish_config(store, args.site, Path(args.file))
            print(json.dumps(out, ensure_ascii=False))
    finally:
        store.close()
    return 0


def _site_action(args, store) -> int:
    from central import admin

    if args.site_cmd == "add":
        token = admin.enrol_site(store, args.id, args.name, args.kind)
        print(f"site {args.id} enrolled; its token (shown once, put it in the site's "
              f"sync.toml):\n{token}")
    elif args.site_cmd == "rotate-token":
        print(f"new token for {args.id} (the old one no longer works):\n"
              f"{admin.rotate_token(store, args.id)}")
    elif args.site_cmd == "revoke":
        admin.revoke_site(store, args.id)
        print(f"site {args.id} revoked")
    elif args.site_cmd == "accept-epoch":
        if not admin.accept_epoch(store, args.id, args.epoch):
            print(f"no site {args.id}", file=sys.stderr)
            return 2
        print(f"site {args.id} continues under epoch {args.epoch}")
    elif args.site_cmd == "list":
        for s in store.sites():
            print(f"{s['id']:<20} {s['kind']:<8} {'active' if s['active'] else 'REVOKED':<8} "
                  f"acked {s['next_seq'] - 1:<8} last sync {s['last_sync_at']}")
    return 0


def cmd_province_demo(args) -> int:
    from tools.province_demo import run

    return run(Path(args.dir), port=args.port, speed=args.speed, days=args.days,
               keep_running=not args.no_wait)


# -- the parser ------------------------------------------------------------------------------
def add_parsers(sub) -> None:
    s = sub.add_parser("site", help="this hall's site id and database epoch (read-only)")
    s.set_defaults(fn=cmd_site)

    s = sub.add_parser("sync", help="ship this hall's event log to the central server and "
                                    "apply its configuration bundles")
    s.add_argument("--central", help="the central server's URL (default: sync.toml)")
    s.add_argument("--token", help="the site's token (default: sync.toml, $QMS_SYNC_TOKEN)")
    s.add_argument("--once", action="store_true", help="send what is waiting, then stop")
    s.add_argument("--status", action="store_true", help="print the running sync's status")
    s.add_argument("--save", action="store_true", help="write --central/--token to sync.toml")
    s.add_argument("--verbose", action="store_true")
    s.set_defaults(fn=cmd_sync)

    s = sub.add_parser("backup", help="online backup of the hall database (SQLite backup "
                                      "API), safe while the server runs")
    s.add_argument("dest", help="a folder (a dated file is written) or a .db file")
    s.add_argument("--keep", type=int, default=14, help="dated backups to keep in a folder")
    s.set_defaults(fn=cmd_backup)

    s = sub.add_parser("restore", help="restore the hall database from a backup (the server "
                                       "stopped); gives it a new epoch")
    s.add_argument("source")
    s.add_argument("--force", action="store_true", help="replace an existing qms.db")
    s.set_defaults(fn=cmd_restore)

    s = sub.add_parser("province-demo", help="a central server on a local PostgreSQL and "
                                             "three sites with simulated days")
    s.add_argument("--dir", default="var/province", help="folder for everything")
    s.add_argument("--port", type=int, default=8800, help="the central server's port")
    s.add_argument("--speed", type=float, default=600, help="simulated seconds per second")
    s.add_argument("--days", type=int, default=1, help="simulated days per site")
    s.add_argument("--no-wait", action="store_true", help="stop after the days are shipped")
    s.set_defaults(fn=cmd_province_demo)

    c = sub.add_parser("central", help="the province's central server (PostgreSQL)")
    c.add_argument("--central-dir", default=CENTRAL_DIR_DEFAULT,
                   help="folder with central.toml (default var/central, $QMS_CENTRAL_DIR)")
    c.add_argument("--dsn", help="PostgreSQL DSN (default: central.toml, $QMS_CENTRAL_DSN)")
    c.set_defaults(fn=cmd_central)
    cs = c.add_subparsers(dest="central_cmd", required=True)
    s = cs.add_parser("init", help="write central.toml and create/migrate the database")
    s.add_argument("--name", help="the province's name on the dashboard")
    cs.add_parser("migrate", help="bring the database to the newest schema (Alembic)")
    s = cs.add_parser("serve", help="run the central server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8800)
    s.add_argument("--threads", type=int, default=8)
    s.add_argument("--verbose", action="store_true")
    cs.add_parser("rollup", help="month aggregates of months that have closed")
    site = cs.add_parser("site", help="enrol sites, rotate or revoke their tokens")
    ss = site.add_subparsers(dest="site_cmd", required=True)
    s = ss.add_parser("add")
    s.add_argument("id")
    s.add_argument("--name", required=True)
    s.add_argument("--kind", default="commune", choices=["centre", "branch", "commune"])
    for name in ("rotate-token", "revoke"):
        ss.add_parser(name).add_argument("id")
    s = ss.add_parser("accept-epoch", help="accept a re-created site database's new epoch")
    s.add_argument("id")
    s.add_argument("epoch")
    ss.add_parser("list")
    user = cs.add_parser("user", help="people who read the central reports")
    us = user.add_subparsers(dest="user_cmd", required=True)
    s = us.add_parser("add")
    s.add_argument("name")
    s.add_argument("--role", required=True, choices=["province_manager", "site_manager",
                                                     "admin"])
    s.add_argument("--password", required=True)
    s.add_argument("--site", help="the site of a site_manager")
    s.add_argument("--full-name")
    bundle = cs.add_parser("bundle", help="publish a configuration bundle")
    bs = bundle.add_subparsers(dest="kind", required=True)
    bs.add_parser("catalogue", help="the province's procedure catalogue (.csv/.xlsx)") \
        .add_argument("file")
    s = bs.add_parser("config", help="one site's configuration (.toml/.json)")
    s.add_argument("site")
    s.add_argument("file")
