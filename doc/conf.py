"""Sphinx configuration for heat_wsgi's documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

project = "heat_wsgi"
author = "the heat_wsgi developers"
copyright = "2026, the heat_wsgi developers"
# fieldref: the topology field reference, generated from the model at build time.
extensions = ["sphinx.ext.autodoc", "fieldref"]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
