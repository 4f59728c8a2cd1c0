"""Sphinx configuration: the Markdown pages (MyST) and the API reference (autodoc).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` with the
``docs`` extra installed (``pip install -e ".[docs]"``).
"""

from __future__ import annotations


import kefu

project = "kefu"
author = "the kefu authors"
copyright = "2026, the kefu authors"  # noqa: A001  (Sphinx's name)
release = kefu.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_inherit_docstrings = False
napoleon_google_docstring = False
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_title = f"kefu {release}"
