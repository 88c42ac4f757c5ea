"""Schema, changed only through `sqlite_utils.Migrations` (one function per change)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("qms")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            site TEXT NOT NULL,
            team_id INTEGER NOT NULL,
            origin_team_id INTEGER NOT NULL,
            day TEXT NOT NULL,
            number INTEGER NOT NULL,
            token TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL,
            priority TEXT,
            procedure_code TEXT,
            status TEXT NOT NULL,
            counter INTEGER,
            target_counter INTEGER,
            issued_at TEXT NOT NULL,
            wait_from TEXT NOT NULL,
            called_at TEXT,
            first_called_at TEXT,
            started_at TEXT,
            finished_at TEXT,
            recalls INTEGER NOT NULL DEFAULT 0,
            transfers INTEGER NOT NULL DEFAULT 0,
            rating INTEGER,
            note TEXT
        );
        CREATE UNIQUE INDEX tickets_number ON tickets (site, day, origin_team_id, number);
        CREATE INDEX tickets_waiting ON tickets (status, site, team_id);
        CREATE INDEX tickets_team_day ON tickets (team_id, day, first_called_at);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            site TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            ticket_id INTEGER,
            team_id INTEGER,
            counter INTEGER,
            actor TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE UNIQUE INDEX events_site_seq ON events (site, seq);
        CREATE INDEX events_ticket ON events (ticket_id);
        CREATE INDEX events_type_at ON events (type, at);

        CREATE TABLE counters (
            number INTEGER PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'closed',
            ticket_id INTEGER,
            officer TEXT,
            reason TEXT
        );

        CREATE TABLE procedures (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            name_folded TEXT NOT NULL,
            field TEXT NOT NULL DEFAULT '',
            agency TEXT NOT NULL DEFAULT '',
            level TEXT NOT NULL DEFAULT '',
            processing_days TEXT NOT NULL DEFAULT '',
            fee TEXT NOT NULL DEFAULT '',
            documents TEXT NOT NULL DEFAULT '[]',
            team_id INTEGER,
            source TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX procedures_field ON procedures (field);

        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            full_name TEXT NOT NULL DEFAULT '',
            counters TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );

        CREATE TABLE devices (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            site TEXT NOT NULL DEFAULT 'main',
            counters TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );

        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            counter INTEGER,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );

        CREATE TABLE idempotency (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            status INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (scope, key)
        );

        CREATE TABLE device_status (
            device TEXT NOT NULL,
            part TEXT NOT NULL,
            online INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            PRIMARY KEY (device, part)
        );

        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        """
    )
