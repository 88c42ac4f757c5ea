"""Province-wide reports: a month roll-up over every site and the indexes of per-site reads.

- province_agg: a closed month added up over every site, per dimension and key (the
  columns of report_agg, site '*', period 'm'); province_months lists the months present.
  They are a cache: any change to a site's rows of a month deletes that month's rows in the
  same transaction, and the roll-up loop builds them again
  (`central.reports.roll_up_closed`). A report over every site reads them for whole months
  and the sites' own rows elsewhere.
- journeys (site, day): a site's range (the exact path's count and rows) without walking
  every site's journeys of those days.
- report_agg (site, dim, period, day): one site's aggregates without walking every site's
  rows of those days.

Revision ID: 0002_province_rollup
Revises: 0001_central_initial
Create Date: 2026-11-30
"""

from alembic import op

revision = "0002_province_rollup"
down_revision = "0001_central_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE province_agg (LIKE report_agg INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
        PRIMARY KEY (dim, day, key),
        CHECK (site = '*' AND period = 'm'));
    CREATE TABLE province_months (
        month text PRIMARY KEY,
        built_at timestamptz NOT NULL DEFAULT now(),
        sites integer NOT NULL
    );
    CREATE INDEX IF NOT EXISTS journeys_site_day ON journeys (site, day);
    CREATE INDEX IF NOT EXISTS report_agg_site ON report_agg (site, dim, period, day);
    """)


def downgrade() -> None:
    raise NotImplementedError("the central store only moves forward; restore a backup")
