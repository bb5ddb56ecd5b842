"""``heat-wsgi cloudwatch ...``: the CloudWatch API's database chores."""

from __future__ import annotations

import argparse
from typing import Any

from heat_wsgi.errors import HeatWsgiError


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("cloudwatch", help="heat-api-cloudwatch database commands")
    commands = group.add_subparsers(dest="cloudwatch_command", metavar="COMMAND", required=True)

    sync = commands.add_parser(
        "db-sync", help="create or upgrade heat_wsgi's CloudWatch tables (idempotent)")
    _database_args(sync)
    sync.set_defaults(func=db_sync)

    evaluate = commands.add_parser(
        "evaluate", help="evaluate every alarm once and fire the actions of any transition "
                         "(for deployments that turn the API's periodic evaluation off)")
    _database_args(evaluate)
    evaluate.set_defaults(func=evaluate_once)


def _database_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH",
                        help="heat.conf to read [database] connection from (repeatable)")
    parser.add_argument("--connection", metavar="URL",
                        help="SQLAlchemy URL; overrides the config files")


def _connection(args: argparse.Namespace) -> tuple[str, Any]:
    from heat_wsgi.cw import config
    conf = config.load(list(args.config_file)) if args.config_file else None
    url = args.connection or (config.connection_url(conf) if conf is not None else None)
    if not url:
        raise config.ConfigError(
            "--connection / --config-file: need a database URL, from --connection or from "
            "[database] connection in a --config-file (got neither)")
    return url, conf


def db_sync(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from heat_wsgi.cw import schema
    from heat_wsgi.cw.store import make_engine
    url, _ = _connection(args)
    try:
        engine = make_engine(url)
        with engine.begin() as conn:
            before = set(sa.inspect(conn).get_table_names())
            version = schema.create(conn)
            created = set(sa.inspect(conn).get_table_names()) - before
    except HeatWsgiError:
        raise
    except Exception as exc:  # a driver error: say which database, not a traceback
        raise schema.SchemaError(f"--connection {_safe(url)}: {exc}") from None
    # "created" tells a deployment tool that this run changed something.
    state = f"created ({len(created)} new)" if created else "ready"
    print(f"heat_wsgi CloudWatch tables {state} (schema version {version}) in {_safe(url)}")
    return 0


def evaluate_once(args: argparse.Namespace) -> int:
    from heat_wsgi.cw.notify import Notifier
    from heat_wsgi.cw.service import Service
    from heat_wsgi.cw.store import Store, make_engine
    url, conf = _connection(args)
    timeout = conf.heat_wsgi_cloudwatch.action_timeout if conf is not None else 10.0
    notifier = Notifier(timeout)
    count = Service(Store(lambda: make_engine(url)), notifier).evaluate_all()
    notifier.wait(timeout + 5)
    print(f"evaluated {count} alarm(s)")
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"
