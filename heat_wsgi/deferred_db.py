"""Keep SQLAlchemy out of an API process until something in it uses the database.

Heat's ``RequestContext`` class is decorated with oslo.db's
``enginefacade.transaction_context_provider``, so importing Heat's API
imports ``oslo_db.sqlalchemy.enginefacade``, and with it oslo.db's engine
code and SQLAlchemy: measured on Heat 27, 154 of the API's 1,114 modules,
about 45% of its boot CPU (1.65 s -> 0.89 s without them) and 20 MB of
every process that holds a copy (92 -> 72 MB of RSS). The API services
never open a session: they reach the database only through heat-engine,
over RPC.

:func:`install` puts a stand-in for that module in ``sys.modules`` before
Heat is imported. It answers ``transaction_context_provider`` itself, with
a decorator that grafts the same four attributes onto the class the real
one grafts, each of which imports the real module and decorates the class
for real the first time any of them is read. Any other attribute of the
stand-in imports the real module too and answers from it. So nothing is
left out, only deferred: code that does use the database (a custom paste
filter, a test that imports ``heat.db``) gets oslo.db as it would have,
and pays for the import then.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

REAL = "oslo_db.sqlalchemy.enginefacade"
# What oslo.db's transaction_context_provider sets on a class (oslo.db 18:
# a ``transaction_ctx`` property and three ``_context_descriptor``\\ s).
GRAFTED = ("transaction_ctx", "session", "connection", "transaction")

_lock = threading.RLock()   # reentrant: the real import may come back here


class DeferredModule(types.ModuleType):
    """``sys.modules[REAL]`` until the real module is needed."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):   # import machinery and pickling probe these
            raise AttributeError(name)
        return getattr(real_module(), name)


def real_module() -> types.ModuleType:
    """The real enginefacade, imported now if only the stand-in is there."""
    with _lock:
        module = sys.modules.get(REAL)
        if isinstance(module, DeferredModule):
            del sys.modules[REAL]
            module = None
        if module is None:
            module = importlib.import_module(REAL)
        return module


class _GraftOnUse:
    """One grafted attribute: on first use, decorate the class for real and
    answer with the real descriptor. A data descriptor, like the real ones,
    so an instance's ``__dict__`` cannot shadow it."""

    def __init__(self, klass: type, attr: str) -> None:
        self._klass = klass
        self._attr = attr

    def _real_descriptor(self) -> Any:
        if isinstance(self._klass.__dict__.get(self._attr), _GraftOnUse):
            real_module().transaction_context_provider(self._klass)
        return self._klass.__dict__[self._attr]

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return self._real_descriptor().__get__(instance, owner)

    def __set__(self, instance: object, value: Any) -> None:
        self._real_descriptor().__set__(instance, value)


def transaction_context_provider(klass: type) -> type:
    """oslo.db's class decorator, deferred: see the module's docstring."""
    for attr in GRAFTED:
        setattr(klass, attr, _GraftOnUse(klass, attr))
    return klass


def install() -> bool:
    """Stand in for enginefacade unless it is imported already (then there
    is nothing left to save). True if the stand-in is in place."""
    with _lock:
        current = sys.modules.get(REAL)
        if isinstance(current, DeferredModule):
            return True
        if current is not None:
            return False
        stand_in = DeferredModule(REAL, "heat_wsgi.deferred_db's stand-in; see its docstring")
        stand_in.transaction_context_provider = transaction_context_provider  # type: ignore[attr-defined]
        sys.modules[REAL] = stand_in
        return True
