"""``heat-wsgi up``'s pure half: a topology moved onto this machine, and the plan to run it.

:mod:`~heat_wsgi.local.localize` rewrites addresses and paths;
:mod:`~heat_wsgi.local.plan` decides the files, services, order and probes.
:mod:`heat_wsgi.cluster` carries the plan out.
"""
