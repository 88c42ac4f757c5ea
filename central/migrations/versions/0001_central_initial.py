"""The central store: sites, their event logs, flags, users, bundles, folded reports.

Revision ID: 0001_central_initial
Revises:
Create Date: 2026-05-01
"""

from alembic import op

revision = "0001_central_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE sites (
        id text PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL DEFAULT 'commune'
            CHECK (kind IN ('centre', 'branch', 'commune')),
        token_hash text UNIQUE,
        active boolean NOT NULL DEFAULT true,
        epoch text,
        next_seq bigint NOT NULL DEFAULT 1,
        hall_seq bigint,
        hall_clock timestamptz,
        oldest_unsent_at text,
        last_sync_at timestamptz,
        last_event_at text,
        last_refusal text,
        software text,
        stale_after_min integer,
        created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE events (
        site text NOT NULL REFERENCES sites (id),
        epoch text NOT NULL,
        seq bigint NOT NULL,
        type text NOT NULL,
        at text NOT NULL,
        ticket_id bigint,
        team_id integer,
        counter integer,
        actor text,
        data jsonb NOT NULL DEFAULT '{}',
        schema integer NOT NULL DEFAULT 1,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (site, epoch, seq)
    );

    CREATE TABLE epoch_flags (
        site text NOT NULL REFERENCES sites (id),
        epoch text NOT NULL,
        known_epoch text,
        first_at timestamptz NOT NULL DEFAULT now(),
        last_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 1,
        first_seq bigint,
        resolved_at timestamptz,
        resolution text,
        PRIMARY KEY (site, epoch)
    );

    CREATE TABLE users (
        username text PRIMARY KEY,
        role text NOT NULL CHECK (role IN ('province_manager', 'site_manager', 'admin')),
        site text REFERENCES sites (id),
        full_name text NOT NULL DEFAULT '',
        password_hash text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (role <> 'site_manager' OR site IS NOT NULL)
    );

    CREATE TABLE sessions (
        token_hash text PRIMARY KEY,
        username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL
    );

    CREATE TABLE bundles (
        kind text NOT NULL CHECK (kind IN ('catalogue', 'config')),
        scope text NOT NULL,
        version integer NOT NULL,
        body jsonb NOT NULL,
        sha256 text NOT NULL,
        note text NOT NULL DEFAULT '',
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, scope, version)
    );

    CREATE TABLE bundle_status (
        site text NOT NULL REFERENCES sites (id),
        kind text NOT NULL,
        version integer NOT NULL,
        status text NOT NULL CHECK (status IN ('applied', 'failed')),
        detail text NOT NULL DEFAULT '',
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (site, kind)
    );

    CREATE TABLE journeys (
        site text NOT NULL,
        epoch text NOT NULL,
        ticket_id bigint NOT NULL,
        day text NOT NULL,
        hour integer NOT NULL,
        weekday integer NOT NULL,
        number integer,
        issued_at text NOT NULL,
        team_id integer NOT NULL,
        serve_team integer,
        counter integer,
        officer text,
        procedure_code text,
        field text,
        priority text,
        channel text,
        status text NOT NULL,
        first_called_at text,
        wait_s double precision,
        started_at text,
        finished_at text,
        service_s double precision,
        left_queue_at text,
        transfers integer NOT NULL DEFAULT 0,
        recalls integer NOT NULL DEFAULT 0,
        rating integer,
        rating_reason text,
        rated_at text,
        PRIMARY KEY (site, epoch, ticket_id)
    );
    CREATE INDEX journeys_day_site ON journeys (day, site);
    CREATE INDEX journeys_low_rated ON journeys (rated_at) WHERE rating <= 2;

    CREATE TABLE fold_cursor (
        site text NOT NULL,
        epoch text NOT NULL,
        seq bigint NOT NULL,
        state jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (site, epoch)
    );

    CREATE TABLE report_agg (
        dim text NOT NULL,
        period text NOT NULL,
        day text NOT NULL,
        site text NOT NULL,
        key text NOT NULL,
        issued bigint NOT NULL DEFAULT 0,
        called bigint NOT NULL DEFAULT 0,
        served bigint NOT NULL DEFAULT 0,
        no_show bigint NOT NULL DEFAULT 0,
        transferred bigint NOT NULL DEFAULT 0,
        cancelled bigint NOT NULL DEFAULT 0,
        wait_sum double precision NOT NULL DEFAULT 0,
        service_sum double precision NOT NULL DEFAULT 0,
        r1 bigint NOT NULL DEFAULT 0,
        r2 bigint NOT NULL DEFAULT 0,
        r3 bigint NOT NULL DEFAULT 0,
        r4 bigint NOT NULL DEFAULT 0,
        wait_max double precision,
        service_max double precision,
        peak_waiting bigint NOT NULL DEFAULT 0,
        wait_hist bytea,
        service_hist bytea,
        PRIMARY KEY (dim, period, day, site, key)
    );

    -- (site, month) pairs whose month rows (period 'm') are present and current
    CREATE TABLE agg_months (
        site text NOT NULL,
        month text NOT NULL,
        PRIMARY KEY (site, month)
    );

    CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'
    );
    """)


def downgrade() -> None:
    raise NotImplementedError("the central store only moves forward; restore a backup")
