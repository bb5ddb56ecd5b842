"""heat_wsgi.deferred_db: SQLAlchemy stays out of an API process, and nothing is lost.

Each case runs in a fresh interpreter: what is imported is the point, and
the test process's own ``sys.modules`` must not decide it.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from conftest import PYTHON, write_heat_conf


def run(code: str) -> str:
    proc = subprocess.run([str(PYTHON), "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_decorated_class_gets_the_real_attributes_on_first_use() -> None:
    out = run("""
        import sys
        from heat_wsgi import deferred_db
        assert deferred_db.install()
        from oslo_db.sqlalchemy import enginefacade

        @enginefacade.transaction_context_provider
        class Context:
            pass

        class Child(Context):
            pass

        print("before", "sqlalchemy" in sys.modules)
        try:
            Child().session
        except Exception as exc:   # what the real decorator raises outside a transaction
            print("raised", type(exc).__module__, type(exc).__name__)
        print("after", "sqlalchemy" in sys.modules)
        real = sys.modules[deferred_db.REAL]
        print("real module", not isinstance(real, deferred_db.DeferredModule))
        print("grafted", sorted(type(v).__name__ for k, v in vars(Context).items()
                                if k in deferred_db.GRAFTED))
        print("forwards", enginefacade.writer is real.writer)
    """)
    assert out.splitlines() == [
        "before False",
        "raised oslo_db.exception NoEngineContextEstablished",
        "after True",
        "real module True",
        "grafted ['property', 'property', 'property', 'property']",
        "forwards True",
    ]


def test_grafted_attributes_match_what_oslo_db_grafts() -> None:
    # If an oslo.db release grafts other names, the stand-in would miss them.
    out = run("""
        from oslo_db.sqlalchemy import enginefacade

        @enginefacade.transaction_context_provider
        class Context:
            pass

        print(sorted(k for k in vars(Context) if not k.startswith("__")))
    """)
    from heat_wsgi.deferred_db import GRAFTED
    assert out.strip() == str(sorted(GRAFTED))


def test_any_other_attribute_imports_the_real_module() -> None:
    out = run("""
        import sys
        from heat_wsgi import deferred_db
        deferred_db.install()
        from oslo_db.sqlalchemy import enginefacade as stand_in
        writer = stand_in.writer
        import oslo_db.sqlalchemy.enginefacade as again
        print(type(again).__name__, writer is again.writer, "sqlalchemy" in sys.modules)
    """)
    assert out.split() == ["module", "True", "True"]


def test_nothing_to_defer_once_the_real_module_is_imported() -> None:
    out = run("""
        import sys
        import oslo_db.sqlalchemy.enginefacade
        from heat_wsgi import deferred_db
        print(deferred_db.install(), type(sys.modules[deferred_db.REAL]).__name__)
    """)
    assert out.split() == ["False", "module"]


@pytest.mark.real
def test_booted_heat_api_has_no_sqlalchemy(tmp_path) -> None:
    """The real Heat: if a release imports SQLAlchemy some other way, the API
    pays for it again, and this says so. (heat-api-cloudwatch is left out: it
    keeps its alarms in the database itself.)"""
    conf = write_heat_conf(tmp_path / "heat.conf",
                           transport_url="rabbit://guest:guest@127.0.0.1:5672/")
    out = run(f"""
        import sys
        from heat_wsgi import boot
        for prog in ("heat-api", "heat-api-cfn"):
            boot.load_application(prog, ["server", "--config-file", {str(conf)!r}], {{}})
        print("RESULT", sorted({{m.split(".")[0] for m in sys.modules}}
                               & {{"sqlalchemy", "alembic"}}))
        from heat.common import context
        print("RESULT", type(vars(context.RequestContext)["session"]).__name__)
    """)
    results = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert results == ["RESULT []", "RESULT _GraftOnUse"]
