"""``heat-wsgi up | status | down | logs | restart``: run a topology on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heat_wsgi import cluster, rolling
from heat_wsgi.commands import state_dir_and_handler
from heat_wsgi.demo import autoscaling_demo, demo_stack, scaling_group
from heat_wsgi.local.keystone import client_help
from heat_wsgi.diagram import render_text_diagram
from heat_wsgi.runtime.process import log_tail
from heat_wsgi.services import SERVICES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    state_help = (f"state directory (default: ${cluster.STATE_ENV} or "
                  f"./{cluster.DEFAULT_STATE_DIR})")

    up = subparsers.add_parser(
        "up", help="run a topology on this machine (loopback addresses, private services)",
        description="Render TOPOLOGY (default: the scaling guide's sample on 127.0.0.1-3) "
                    "and start MariaDB, RabbitMQ, the heat-engines, the API instances and "
                    "HAProxy as private processes. Starts only what is not running yet.")
    up.add_argument("topology", nargs="?", type=Path, metavar="TOPOLOGY",
                    help="topology YAML file (default: built-in sample)")
    up.add_argument("--state-dir", type=Path, help=state_help)
    up.add_argument("--engines-per-host", type=int, metavar="N",
                    help="heat-engine processes per host in the default topology (default 2)")
    up.add_argument("--keystone", action="store_true",
                    help="with a real Keystone on the controller (port 5000): heat-api checks "
                         "tokens, CFN and CloudWatch check EC2 signatures, engines use trusts")
    up.add_argument("--demo", action="store_true",
                    help="then create a demo stack through the proxy and show it; with "
                         "--keystone, an alarm that grows an autoscaling group")
    up.set_defaults(func=cmd_up)

    restart = subparsers.add_parser(
        "restart", help="restart services one at a time, draining API instances at HAProxy",
        description="Restart each SERVICE (names as `status` shows them) one at a time: an "
                    "API instance is drained at HAProxy, reloaded gracefully (uwsgi: SIGHUP; "
                    "Apache: graceful), checked healthy and put back; other services are "
                    "stopped and started again. --rolling: every API instance, then every "
                    "heat-engine.")
    restart.add_argument("services", nargs="*", metavar="SERVICE")
    restart.add_argument("--rolling", action="store_true",
                         help="every API instance, then every heat-engine, one at a time")
    state_dir_and_handler(restart, state_help, cmd_restart)

    status = subparsers.add_parser("status", help="pid, address and health of each service")
    state_dir_and_handler(status, state_help, cmd_status)

    down = subparsers.add_parser("down", help="stop exactly what `up` started, by pid")
    down.add_argument("--state-dir", type=Path, help=state_help)
    down.add_argument("--purge", action="store_true",
                      help="also delete the state dir (database, configs, logs)")
    down.set_defaults(func=cmd_down)

    logs = subparsers.add_parser("logs", help="list log files, or show one service's log")
    logs.add_argument("service", nargs="?", metavar="SERVICE",
                      help="service name as `status` shows it (a part of it is enough)")
    logs.add_argument("-n", "--lines", type=int, default=40, help="lines to show (default 40)")
    state_dir_and_handler(logs, state_help, cmd_logs)


def _progress(line: str) -> None:
    print(line, flush=True)


CLIENT_HELP = """\
Clients (noauth: any token works, every caller is admin of project "admin"):
  python-heatclient:
    from heatclient import client
    heat = client.Client('1', endpoint='{api}', token='noauth')
    heat.stacks.list()
  openstack client (python-openstackclient + python-heatclient):
    openstack --os-auth-type none --os-endpoint {api} stack list
    (or export OS_AUTH_TYPE=none OS_ENDPOINT={api}; the admin_token type with
    --os-token noauth works too)
  AWS CloudFormation (boto3), any credentials, region RegionOne, note the trailing /v1/:
    import boto3
    boto3.client('cloudformation', endpoint_url='{cfn}', region_name='RegionOne',
                 aws_access_key_id='any', aws_secret_access_key='any').describe_stacks()"""


def cmd_up(args: argparse.Namespace) -> int:
    result = cluster.up(args.topology, args.state_dir, engines_per_host=args.engines_per_host,
                        keystone=args.keystone, progress=_progress)
    record = result.record
    print()
    print(f"Heat is up: {len(record.services)} services, state in {record.state_dir}")
    for label, url in record.endpoints.items():
        print(f"  {label:<15} {url}")
    print()
    print(render_text_diagram(result.plan.topology), end="")
    print()
    api = record.endpoints.get(SERVICES["api"].label, "http://127.0.0.1:8004/v1/admin")
    cfn = record.endpoints.get(SERVICES["cfn"].label, "http://127.0.0.1:8000/v1/")
    accounts = result.plan.keystone
    print(client_help(accounts) if accounts is not None else CLIENT_HELP.format(api=api, cfn=cfn))
    print()
    print("Then: heat-wsgi status | heat-wsgi logs [SERVICE] | heat-wsgi restart --rolling | "
          "heat-wsgi down [--purge]")
    if args.demo and accounts is not None:
        print()
        root = api.split("/v1", 1)[0]
        cw = record.endpoints.get(SERVICES["cloudwatch"].label, "http://127.0.0.1:8003/")
        group = scaling_group(accounts, api=root, cloudwatch=cw.rstrip("/"),
                              data_dir=record.state_dir / "botocore")
        print(f"Autoscaling demo: stack {group.name} ({group.stack_id}), group size "
              f"{group.size()}; alarm on Load > 70 pointing at its scaling policy")
        shown = autoscaling_demo(group)
        print(f"  put Load = 95: alarm {shown['alarm']} is {shown['state']}; "
              f"group size {shown['before']} -> {shown['after']}")
        return 0 if shown["after"] != shown["before"] else 1
    if args.demo:
        print()
        shown = demo_stack(api)
        print(f"Demo stack {shown['name']} ({shown['id']}): {shown['status']}")
        for key, value in dict(shown["outputs"]).items():  # type: ignore[call-overload]
            print(f"  output {key} = {value}")
        if shown["status"] != "CREATE_COMPLETE":
            print(f"  reason: {shown['reason']}", file=sys.stderr)
            return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    record, rows = cluster.status(args.state_dir)
    if record is None or not rows:
        where = (args.state_dir or cluster.default_state_dir()).absolute()
        print(f"heat-wsgi: nothing is running from {where}")
        return 3
    print(f"{'SERVICE':<26} {'PID':<14} {'ADDRESS':<34} HEALTH")
    for row in rows:
        pids = ",".join(str(p) for p in row.service.pids)
        mark = "ok" if row.healthy else "FAIL"
        print(f"{row.service.name:<26} {pids:<14} {row.service.address or '-':<34} "
              f"{mark} ({row.detail})")
    servers = cluster.proxy_servers(record)
    if servers:
        print()
        print(f"{'HAPROXY BACKEND/SERVER':<40} {'STATUS':<10} {'SESSIONS':>9} {'RESPONSES':>10}")
        for stat in servers:
            print(f"{stat.backend + '/' + stat.server:<40} {stat.status:<10} "
                  f"{stat.sessions:>9} {stat.responses:>10}")
    return 0 if all(row.healthy for row in rows) else 1


def cmd_down(args: argparse.Namespace) -> int:
    stopped = cluster.down(args.state_dir, purge=args.purge, progress=_progress)
    if not stopped:
        print("heat-wsgi: nothing was running")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    logs = cluster.log_files(args.state_dir)
    if args.service is None:
        for name, paths in logs.items():
            print(f"{name:<26} " + "  ".join(str(p) for p in paths))
        return 0
    matches = [n for n in logs if n == args.service] or [
        n for n in logs if args.service in n]
    if not matches:
        print(f"heat-wsgi: no service {args.service!r} (have: {', '.join(logs) or 'none'})",
              file=sys.stderr)
        return 2
    for name in matches:
        for path in logs[name]:
            print(f"==> {name}: {path} <==")
            print(log_tail(path, args.lines).replace("\n    | ", "\n").lstrip("\n"))
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    if not args.services and not args.rolling:
        print("heat-wsgi: restart: name services (as `heat-wsgi status` shows them) "
              "or give --rolling", file=sys.stderr)
        return 2
    if args.services and args.rolling:
        print("heat-wsgi: restart: give service names or --rolling, not both", file=sys.stderr)
        return 2
    rolling.restart(args.services, args.state_dir, progress=_progress)
    return 0
