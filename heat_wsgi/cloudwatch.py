"""WSGI entrypoint for heat-api-cloudwatch: ``uwsgi --module heat_wsgi.cloudwatch``."""

from heat_wsgi import boot

application = boot.entrypoint("heat-api-cloudwatch")
