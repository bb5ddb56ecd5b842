"""heat_wsgi's CloudWatch tables, kept in the Heat database beside Heat's own.

Every name starts with ``heat_wsgi_cw_`` so they can never meet a Heat
table, and Heat's alembic migrations never see them.

Why no alembic here: the schema is four small tables that only heat_wsgi
reads. ``create_all`` is idempotent, and the one-row ``schema`` table
records the version, so a later heat_wsgi can tell which upgrade steps to
run (and an older one refuses a newer schema instead of misreading it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from heat_wsgi.errors import HeatWsgiError

PREFIX = "heat_wsgi_cw_"
SCHEMA_VERSION = 1

# MariaDB: InnoDB for transactions and row locks; a binary collation because
# AWS names are case-sensitive ("cpu" and "CPU" are two alarms), which the
# default utf8mb4 collation would fold into one.
_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
# BIGINT autoincrement keys on MariaDB; SQLite only autoincrements INTEGER.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

schema = sa.Table(
    PREFIX + "schema", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    **_MYSQL)

metrics = sa.Table(
    PREFIX + "metrics", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("metric_key", sa.String(64), nullable=False, unique=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("dimensions", sa.Text, nullable=False),  # JSON [[name, value], ...], sorted
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
    sa.Index(PREFIX + "metrics_lookup", "project", "namespace", "name"),
    **_MYSQL)

samples = sa.Table(
    PREFIX + "samples", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("metric_id", _ID, sa.ForeignKey(metrics.c.id, ondelete="CASCADE"),
              nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("sample_count", sa.Double, nullable=False),
    sa.Column("total", sa.Double, nullable=False),
    sa.Column("minimum", sa.Double, nullable=False),
    sa.Column("maximum", sa.Double, nullable=False),
    sa.Index(PREFIX + "samples_metric_time", "metric_id", "ts_ms"),
    sa.Index(PREFIX + "samples_time", "ts_ms"),  # for the periodic purge
    **_MYSQL)

alarms = sa.Table(
    PREFIX + "alarms", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=False),
    sa.Column("description", sa.String(1024)),
    sa.Column("actions_enabled", sa.Boolean, nullable=False),
    sa.Column("ok_actions", sa.Text, nullable=False),  # JSON lists of URLs
    sa.Column("alarm_actions", sa.Text, nullable=False),
    sa.Column("insufficient_data_actions", sa.Text, nullable=False),
    sa.Column("namespace", sa.String(255), nullable=False),
    sa.Column("metric_name", sa.String(255), nullable=False),
    sa.Column("dimensions", sa.Text, nullable=False),
    sa.Column("metric_key", sa.String(64), nullable=False, index=True),
    sa.Column("statistic", sa.String(16), nullable=False),
    sa.Column("period", sa.Integer, nullable=False),
    sa.Column("unit", sa.String(32)),
    sa.Column("evaluation_periods", sa.Integer, nullable=False),
    sa.Column("datapoints_to_alarm", sa.Integer),
    sa.Column("threshold", sa.Double, nullable=False),
    sa.Column("comparison", sa.String(64), nullable=False),
    sa.Column("treat_missing_data", sa.String(16)),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("state_reason_data", sa.Text),
    sa.Column("state_updated_ms", sa.BigInteger, nullable=False),
    sa.Column("config_updated_ms", sa.BigInteger, nullable=False),
    # Bumped by every state change: the compare-and-swap token (see store).
    sa.Column("version", sa.Integer, nullable=False),
    sa.UniqueConstraint("project", "name", name=PREFIX + "alarms_project_name"),
    **_MYSQL)


class SchemaError(HeatWsgiError):
    """The CloudWatch tables are missing or newer than this heat_wsgi."""


def create(conn: Connection) -> int:
    """Create whatever is missing and record the version; safe to rerun.
    Returns the version now in the database."""
    metadata.create_all(conn, checkfirst=True)
    found = conn.execute(sa.select(schema.c.version).where(schema.c.id == 1)).scalar()
    if found is None:
        conn.execute(schema.insert().values(id=1, version=SCHEMA_VERSION))
        return SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise SchemaError(f"{PREFIX}schema.version: must be at most {SCHEMA_VERSION} for this "
                          f"heat_wsgi (got {found}); upgrade heat_wsgi")
    return int(found)


def check(conn: Connection) -> None:
    """Refuse to serve when the migration has not been run."""
    if not sa.inspect(conn).has_table(schema.name):
        raise SchemaError(f"table {schema.name} is missing: run "
                          f"'heat-wsgi cloudwatch db-sync --config-file heat.conf' first")
    found = conn.execute(sa.select(schema.c.version).where(schema.c.id == 1)).scalar()
    if found != SCHEMA_VERSION:
        raise SchemaError(f"{schema.name}.version: must be {SCHEMA_VERSION} (got {found}); "
                          f"run 'heat-wsgi cloudwatch db-sync'")
