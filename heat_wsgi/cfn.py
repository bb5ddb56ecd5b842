"""WSGI entrypoint for heat-api-cfn: ``uwsgi --module heat_wsgi.cfn``."""

from heat_wsgi import boot

application = boot.entrypoint("heat-api-cfn")
