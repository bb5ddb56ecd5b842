"""Cross-object validation: every problem of a topology, not just the first.

:func:`validate` returns a list of :class:`Problem`. Errors are settings that
cannot work (a port clash, a loopback database address on a remote host);
warnings are legal but risky (a proxy timeout shorter than Heat's RPC
timeout). It never raises: a rule that breaks on odd input reports an
``internal`` error instead.

The rules live one family per module (``names``, ``network``, ``heatconf``,
``budgets``, ``deploy``). A rule is one function ``rule_x(ctx: RuleContext) -> None``
(see :class:`~heat_wsgi.validate.context.RuleContext`) plus one line in
:data:`RULES`. Each runs in time linear in the size of the topology
(lookups go through :class:`~heat_wsgi.derive.Derived`, built once), so
validating 10,000 instances stays fast.
"""

from __future__ import annotations

from collections.abc import Callable

from heat_wsgi.callable_module import make_callable
from heat_wsgi.derive import Derived
from heat_wsgi.model import Topology
from heat_wsgi.validate import budgets, deploy, heatconf, names, network
from heat_wsgi.validate.budgets import OSLO_DB_MAX_OVERFLOW, OSLO_DB_POOL_SIZE, RPC_RESPONSE_TIMEOUT
from heat_wsgi.validate.context import Problem, RuleContext, Severity, duration_seconds

__all__ = ["Severity", "Problem", "RuleContext", "Rule", "RULES", "validate",
           "duration_seconds", "OSLO_DB_POOL_SIZE", "OSLO_DB_MAX_OVERFLOW",
           "RPC_RESPONSE_TIMEOUT"]

Rule = Callable[[RuleContext], None]

#: Every rule, in the order their problems are reported (errors still come first).
RULES: tuple[Rule, ...] = (
    names.rule_safe_strings,
    names.rule_names,
    network.rule_instances,
    network.rule_bindings,
    network.rule_proxy,
    heatconf.rule_base_config,
    heatconf.rule_legacy_options,
    heatconf.rule_host_values,
    network.rule_loopback,
    heatconf.rule_engine_amqp,
    heatconf.rule_amqp_url_passwords,
    budgets.rule_limits,
    budgets.rule_timeouts_and_sizes,
    budgets.rule_db_budget,
    deploy.rule_admin_socket,
    deploy.rule_stats,
    deploy.rule_paths,
    deploy.rule_file_paths,
    deploy.rule_log,
    deploy.rule_check_timing,
    deploy.rule_accounts,
)


def validate(topology: Topology, derived: Derived | None = None) -> list[Problem]:
    """Every problem of ``topology``; errors first, then warnings. Never raises.

    :param derived: the topology's :class:`~heat_wsgi.derive.Derived`, when
        the caller has it already (rendering next reuses it).
    """
    if not isinstance(topology, Topology):
        return [Problem(severity="error", path="", message="must be a Topology",
                        value=type(topology).__name__)]
    try:
        ctx = RuleContext(topology, derived)
    except Exception as exc:  # noqa: BLE001 - validate must not raise
        return [Problem(severity="error", path="<internal>",
                        message=f"cannot index the topology: {exc!r}")]
    for rule in RULES:
        try:
            rule(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others
            ctx.error("<internal>", f"rule {rule.__name__.removeprefix('rule_')} failed: {exc!r}")
    order = {"error": 0, "warning": 1}
    return sorted(ctx.problems, key=lambda p: order[p.severity])


# heat_wsgi.validate(topology) is validate(topology): the facade's name for it.
make_callable(__name__, validate)
