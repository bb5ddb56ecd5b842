"""Subcommand groups of the heat-wsgi CLI; see heat_wsgi.cli."""
