"""Sphinx configuration of the ``sensitivity`` documentation.

Build (warnings are errors)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import sensitivity

project = "sensitivity"
author = "The nn-sensitivity developers"
copyright = "2025, The nn-sensitivity developers"
version = release = sensitivity.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax served from the built site (_static/mathjax), not from a CDN: formulas render
    # offline. docs/build.sh checks it.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
html_theme = "pydata_sphinx_theme"
html_title = f"sensitivity {release}"
html_static_path = ["_static"]
# wider text column for code blocks and formulas (docs/_static/custom.css)
html_css_files = ["custom.css"]
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "backreferences_dir": None,
    "plot_gallery": "True",
}

# intersphinx (links to numpy, pandas, scikit-learn) is not configured: it downloads the
# projects' objects.inv at build time, which fails offline and with -W fails the build.

# networks that stop at max_iter in the examples are expected; keep the build output clean
warnings.filterwarnings("ignore", category=UserWarning, message=".*non-interactive.*")
