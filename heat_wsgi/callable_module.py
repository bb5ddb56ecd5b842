"""Let a package be called as its main function: ``heat_wsgi.render(topology)``.

The facade (:mod:`heat_wsgi`) offers ``validate`` and ``render``, which are
also the names of the packages holding them. Each package is made callable
as its function, so ``heat_wsgi.render(t)``, ``from heat_wsgi import render``
and ``import heat_wsgi.render.haproxy`` all keep working, whichever runs first.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["make_callable"]


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Calling the module ``module_name`` calls ``function`` with the same arguments."""
    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    CallableModule.__call__.__doc__ = function.__doc__
    sys.modules[module_name].__class__ = CallableModule
