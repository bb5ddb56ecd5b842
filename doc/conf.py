"""Sphinx configuration for heat_wsgi's documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "heat_wsgi"
author = "the heat_wsgi developers"
copyright = "2026, the heat_wsgi developers"
extensions = ["sphinx.ext.autodoc"]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
