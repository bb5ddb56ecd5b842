"""The ``[heat_wsgi_cloudwatch]`` options of heat.conf."""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

from heat_wsgi.errors import HeatWsgiError

GROUP = "heat_wsgi_cloudwatch"

OPTS = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the database holding the CloudWatch tables. "
                    "Default: [database] connection, i.e. Heat's own database."),
    cfg.IntOpt("evaluation_interval", default=60, min=0,
               help="Seconds between two periodic evaluations of every alarm in each "
                    "API process (for transitions caused by time alone, such as data "
                    "ageing out). 0 turns it off; PutMetricData still evaluates."),
    cfg.FloatOpt("action_timeout", default=10.0, min=0.1,
                 help="Seconds to wait for an alarm action URL to answer."),
    cfg.IntOpt("max_alarms", default=5000, min=1,
               help="Most alarms one project may hold (AWS: LimitExceeded)."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
    # Heat registers [database] when its DB layer is imported; make sure the
    # option exists even when it was not.
    from oslo_db import options as db_options
    db_options.set_defaults(conf)


def connection_url(conf: cfg.ConfigOpts) -> str | None:
    group: Any = getattr(conf, GROUP)
    url = group.connection or conf.database.connection
    return str(url) if url else None


class ConfigError(HeatWsgiError):
    """heat.conf cannot give the CloudWatch API a database."""


def load(config_files: list[str]) -> cfg.ConfigOpts:
    """A private ConfigOpts read from ``config_files`` (for the CLI, which
    must not touch the global CONF that a WSGI process boots with)."""
    conf = cfg.ConfigOpts()
    register(conf)
    try:
        conf(args=[arg for path in config_files for arg in ("--config-file", path)],
             project="heat", prog="heat-wsgi-cloudwatch", default_config_files=[],
             default_config_dirs=[])
    except cfg.ConfigFilesNotFoundError as exc:
        raise ConfigError(f"--config-file: file not found (got {', '.join(exc.config_files)})") \
            from None
    except cfg.Error as exc:
        raise ConfigError(f"--config-file {', '.join(config_files)}: {exc}") from None
    return conf
