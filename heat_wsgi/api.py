"""WSGI entrypoint for heat-api: ``uwsgi --module heat_wsgi.api``."""

from heat_wsgi import boot

application = boot.entrypoint("heat-api")
