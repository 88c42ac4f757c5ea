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


@migrations()
def m002_report_journeys(db: Database) -> None:
    """Reports: one folded row per ticket (kept up to date from the event log by seq) and
    per-day / per-month aggregates with wait and service histograms."""
    db.executescript(
        """
        CREATE TABLE journeys (
            ticket_id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            hour INTEGER NOT NULL,
            weekday INTEGER NOT NULL,
            number INTEGER,
            issued_at TEXT NOT NULL,
            team_id INTEGER NOT NULL,
            serve_team INTEGER,
            counter INTEGER,
            officer TEXT,
            procedure_code TEXT,
            field TEXT,
            priority TEXT,
            channel TEXT,
            status TEXT NOT NULL,
            first_called_at TEXT,
            wait_s REAL,
            started_at TEXT,
            finished_at TEXT,
            service_s REAL,
            left_queue_at TEXT,
            transfers INTEGER NOT NULL DEFAULT 0,
            recalls INTEGER NOT NULL DEFAULT 0,
            rating INTEGER,
            rating_reason TEXT,
            rated_at TEXT
        );
        CREATE INDEX journeys_day ON journeys (day, site);
        CREATE INDEX journeys_low_rated ON journeys (day) WHERE rating <= 2;

        CREATE TABLE report_cursor (
            site TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT '{}'
        );

        CREATE TABLE report_stats (
            dim TEXT NOT NULL,
            period TEXT NOT NULL,
            day TEXT NOT NULL,
            site TEXT NOT NULL,
            key TEXT NOT NULL,
            issued INTEGER NOT NULL DEFAULT 0,
            called INTEGER NOT NULL DEFAULT 0,
            served INTEGER NOT NULL DEFAULT 0,
            no_show INTEGER NOT NULL DEFAULT 0,
            transferred INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0,
            wait_sum REAL NOT NULL DEFAULT 0,
            wait_max REAL,
            service_sum REAL NOT NULL DEFAULT 0,
            service_max REAL,
            r1 INTEGER NOT NULL DEFAULT 0,
            r2 INTEGER NOT NULL DEFAULT 0,
            r3 INTEGER NOT NULL DEFAULT 0,
            r4 INTEGER NOT NULL DEFAULT 0,
            peak_waiting INTEGER NOT NULL DEFAULT 0,
            wait_hist BLOB,
            service_hist BLOB,
            PRIMARY KEY (dim, period, day, site, key)
        );
        """
    )


@migrations()
def m002_queue_index(db: Database) -> None:
    """Queue heads and positions are read by (site, day, status, team, wait clock)."""
    db.executescript(
        """
        CREATE INDEX tickets_queue ON tickets (site, day, status, team_id, wait_from);
        CREATE INDEX tickets_finished ON tickets (team_id, day, status, finished_at);
        """
    )


@migrations()
def m003_report_stats_by_day(db: Database) -> None:
    db.executescript("CREATE INDEX report_stats_day ON report_stats (period, site, day);")


@migrations()
def m004_report_aggregates(db: Database) -> None:
    """Compact report aggregates replace `report_stats` (two dense 624-byte histograms per
    row): `report_agg` is clustered by (dim, period, day, site, key) and holds sparse
    histograms. The report engine rebuilds it from `journeys` on its next refresh. Newest
    low ratings are read through an index on rated_at."""
    db.executescript(
        """
        DROP TABLE IF EXISTS report_stats;
        CREATE TABLE report_agg (
            dim TEXT NOT NULL,
            period TEXT NOT NULL,
            day TEXT NOT NULL,
            site TEXT NOT NULL,
            key TEXT NOT NULL,
            issued INTEGER NOT NULL DEFAULT 0,
            called INTEGER NOT NULL DEFAULT 0,
            served INTEGER NOT NULL DEFAULT 0,
            no_show INTEGER NOT NULL DEFAULT 0,
            transferred INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0,
            wait_sum REAL NOT NULL DEFAULT 0,
            service_sum REAL NOT NULL DEFAULT 0,
            r1 INTEGER NOT NULL DEFAULT 0,
            r2 INTEGER NOT NULL DEFAULT 0,
            r3 INTEGER NOT NULL DEFAULT 0,
            r4 INTEGER NOT NULL DEFAULT 0,
            wait_max REAL,
            service_max REAL,
            peak_waiting INTEGER NOT NULL DEFAULT 0,
            wait_hist BLOB,
            service_hist BLOB,
            PRIMARY KEY (dim, period, day, site, key)
        ) WITHOUT ROWID;
        CREATE INDEX journeys_low_rated_at ON journeys (rated_at) WHERE rating <= 2;
        """
    )


@migrations()
def m005_low_ratings_recent(db: Database) -> None:
    """Newest low ratings of a range: walk rated_at backwards, filtering day and site in
    the index itself."""
    db.executescript(
        """
        DROP INDEX IF EXISTS journeys_low_rated_at;
        CREATE INDEX journeys_low_rated_recent ON journeys (rated_at, day, site)
            WHERE rating <= 2;
        """
    )


@migrations()
def m006_events_by_type(db: Database) -> None:
    """The wait estimator follows finished/no-show events by seq."""
    db.executescript("CREATE INDEX events_site_type_seq ON events (site, type, seq);")


@migrations()
def m007_queue_head_indexes(db: Database) -> None:
    """Queue heads without scanning the queue: tickets sent to a given counter, and the
    oldest priority ticket of a team (both rare among the waiting)."""
    db.executescript(
        """
        CREATE INDEX tickets_direct ON tickets (site, day, status, target_counter, wait_from)
            WHERE target_counter IS NOT NULL;
        CREATE INDEX tickets_priority_queue ON tickets (site, day, status, team_id, wait_from)
            WHERE priority IS NOT NULL;
        """
    )


@migrations()
def m008_rating_tokens(db: Database) -> None:
    """The citizen rating page's own narrow token: it may rate the ticket just finished at
    one counter and nothing else (created when the counter's officer opens the page), so
    the page never holds the officer's session."""
    db.executescript(
        """
        CREATE TABLE rating_tokens (
            token_hash TEXT PRIMARY KEY,
            counter INTEGER NOT NULL,
            username TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX rating_tokens_user ON rating_tokens (username);
        """
    )


@migrations()
def m009_idempotency_fingerprint(db: Database) -> None:
    """A key is bound to its request: the fingerprint (method, canonical resource, body) of
    the request that first used it; the same key with another request answers 422."""
    db.executescript("ALTER TABLE idempotency ADD COLUMN fingerprint TEXT;")


@migrations()
def m010_site_identity(db: Database) -> None:
    """Which site this hall database is, for the province's central server: the site id
    (set by `qms init --site`, read-only afterwards) and a random epoch made when the
    database is created (a re-created database gets a new one, so the centre never merges
    two different logs under one site). Upgraded databases get their epoch here."""
    db.executescript(
        """
        CREATE TABLE site_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            site TEXT,
            epoch TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO site_identity (id, site, epoch, created_at)
            VALUES (1, NULL, lower(hex(randomblob(16))),
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
        """
    )


@migrations()
def m011_queue_waiting_counts(db: Database) -> None:
    """Waiting tickets per (site, day, team), kept by triggers in the same transaction as
    the ticket row: every event carries the waiting totals, and counting them (a COUNT per
    team over the queue index) cost 9-14 % of a command's CPU, growing with the queue
    (issue #14). Triggers keep it right whoever writes (every process, restore, tests)."""
    db.executescript(
        """
        CREATE TABLE queue_waiting (
            site TEXT NOT NULL,
            day TEXT NOT NULL,
            team_id INTEGER NOT NULL,
            waiting INTEGER NOT NULL,
            PRIMARY KEY (site, day, team_id)
        ) WITHOUT ROWID;
        INSERT INTO queue_waiting (site, day, team_id, waiting)
            SELECT site, day, team_id, COUNT(*) FROM tickets WHERE status = 'waiting'
            GROUP BY site, day, team_id;
        CREATE TRIGGER queue_waiting_insert AFTER INSERT ON tickets
        WHEN NEW.status = 'waiting' BEGIN
            INSERT INTO queue_waiting (site, day, team_id, waiting)
                VALUES (NEW.site, NEW.day, NEW.team_id, 1)
                ON CONFLICT (site, day, team_id) DO UPDATE SET waiting = waiting + 1;
        END;
        CREATE TRIGGER queue_waiting_delete AFTER DELETE ON tickets
        WHEN OLD.status = 'waiting' BEGIN
            UPDATE queue_waiting SET waiting = waiting - 1
                WHERE site = OLD.site AND day = OLD.day AND team_id = OLD.team_id;
        END;
        CREATE TRIGGER queue_waiting_update AFTER UPDATE OF status, team_id, site, day
        ON tickets
        WHEN (OLD.status = 'waiting') != (NEW.status = 'waiting')
          OR (OLD.status = 'waiting' AND (OLD.team_id != NEW.team_id OR OLD.site != NEW.site
                                          OR OLD.day != NEW.day)) BEGIN
            UPDATE queue_waiting SET waiting = waiting - 1
                WHERE OLD.status = 'waiting' AND site = OLD.site AND day = OLD.day
                  AND team_id = OLD.team_id;
            INSERT INTO queue_waiting (site, day, team_id, waiting)
                SELECT NEW.site, NEW.day, NEW.team_id, 1 WHERE NEW.status = 'waiting'
                ON CONFLICT (site, day, team_id) DO UPDATE SET waiting = waiting + 1;
        END;
        """
    )


@migrations()
def m012_accounts_version(db: Database) -> None:
    """A number bumped (by triggers, whoever writes) whenever a session ends or a user or
    device changes: a server process trusts the principals it has cached only while it is
    unchanged, so a sign-out, password change, deactivation or revocation in any process
    takes effect on the next request (issue #14: the token cache)."""
    db.executescript(
        """
        CREATE TABLE accounts_version (id INTEGER PRIMARY KEY CHECK (id = 1),
                                       n INTEGER NOT NULL);
        INSERT INTO accounts_version (id, n) VALUES (1, 0);
        CREATE TRIGGER accounts_version_session_end AFTER DELETE ON sessions BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER accounts_version_user_update AFTER UPDATE ON users BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER accounts_version_user_delete AFTER DELETE ON users BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER accounts_version_device_update AFTER UPDATE ON devices BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER accounts_version_device_delete AFTER DELETE ON devices BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        -- INSERT OR REPLACE (qms user add / device add on an existing name) replaces the
        -- row without firing DELETE triggers: count every insert as a change too
        CREATE TRIGGER accounts_version_user_insert AFTER INSERT ON users BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER accounts_version_device_insert AFTER INSERT ON devices BEGIN
            UPDATE accounts_version SET n = n + 1 WHERE id = 1; END;
        """
    )


@migrations()
def m013_visit_steps(db: Database) -> None:
    """Several steps under one number (issue #15): a ticket's step of its visit (0: the
    first) and, once it moved on, its steps as JSON (team, kind, name of each), so a route
    changed during the day never re-routes a citizen already on the way."""
    db.executescript(
        """
        ALTER TABLE tickets ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE tickets ADD COLUMN route TEXT;
        """
    )


@migrations()
def m014_bookings(db: Database) -> None:
    """Appointments (issue #15): one row per booking (the phone and the CCCD number only as
    salted hashes; the phone's last three digits to tell the citizen which phone it was),
    the per-person marks behind the daily limits (salted hash + day + field, purged daily),
    and the salt itself, generated here once per database."""
    db.executescript(
        """
        CREATE TABLE bookings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            code TEXT NOT NULL UNIQUE,
            site TEXT NOT NULL,
            team_id INTEGER NOT NULL,
            procedure_code TEXT,
            field TEXT NOT NULL,
            day TEXT NOT NULL,
            slot_start TEXT NOT NULL,
            slot_end TEXT NOT NULL,
            phone_hash TEXT NOT NULL,
            phone_tail TEXT NOT NULL,
            id_hash TEXT,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            changed_at TEXT,
            checked_in_at TEXT,
            ticket_id INTEGER
        );
        CREATE INDEX bookings_slot ON bookings (site, team_id, day, slot_start, status);
        CREATE INDEX bookings_phone ON bookings (phone_hash, day);
        CREATE INDEX bookings_id ON bookings (id_hash, day);
        CREATE INDEX bookings_day ON bookings (day, status);

        CREATE TABLE person_marks (
            hash TEXT NOT NULL,
            day TEXT NOT NULL,
            field TEXT NOT NULL,
            ticket_id INTEGER NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX person_marks_hash ON person_marks (hash, day, field);
        CREATE INDEX person_marks_day ON person_marks (day);

        CREATE TABLE person_salt (id INTEGER PRIMARY KEY CHECK (id = 1), salt TEXT NOT NULL);
        INSERT INTO person_salt (id, salt) VALUES (1, lower(hex(randomblob(32))));
        """
    )


@migrations()
def m015_procedure_fees(db: Database) -> None:
    """The portal's fee and processing-time texts read into clean fields (issue #16,
    `server/procedure_texts.py`): free or not (NULL unknown), the amounts in đồng, the
    original texts kept whole, the processing time in working days (0 the same day)."""
    db.executescript(
        """
        ALTER TABLE procedures ADD COLUMN fee_free INTEGER;
        ALTER TABLE procedures ADD COLUMN fee_amount_min INTEGER;
        ALTER TABLE procedures ADD COLUMN fee_amount_max INTEGER;
        ALTER TABLE procedures ADD COLUMN fee_text TEXT NOT NULL DEFAULT '';
        ALTER TABLE procedures ADD COLUMN time_days REAL;
        ALTER TABLE procedures ADD COLUMN time_text TEXT NOT NULL DEFAULT '';
        """
    )


@migrations()
def m016_queue_ahead_index(db: Database) -> None:
    """"How many are ahead of me" without reading a table row per ticket ahead: a covering
    index over the normal queue (every column the count tests, then the wait clock; the
    rowid breaks ties). With 600 waiting in a team the count took ~400 µs through
    `tickets_queue`, ~130 µs through this one (issue #14)."""
    db.executescript(
        """
        CREATE INDEX tickets_ahead ON tickets
            (site, day, team_id, status, target_counter, priority, wait_from);
        """
    )
