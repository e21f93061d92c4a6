"""Sphinx configuration of the jupyter-modelops documentation site (``make docs``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import jupyter_modelops  # noqa: E402

project = "jupyter-modelops"
author = "The jupyter-modelops developers"
copyright = "The jupyter-modelops developers"
release = jupyter_modelops.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The tutorials are the example notebooks rendered from their stored outputs (nbval checks them).
nb_execution_mode = "off"
nb_output_stderr = "remove"
# widget views need a live kernel; their stored text/html fallback is what a reader sees
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
suppress_warnings = ["mystnb.unknown_mime_type"]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": False, "undoc-members": False}

html_theme = "pydata_sphinx_theme"
html_title = "jupyter-modelops"
html_static_path: list[str] = []
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}


def _copy_notebooks(app) -> None:
    """Copy the example notebooks into the source tree (``tutorials/``, not tracked)."""
    out = HERE / "tutorials"
    out.mkdir(exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copyfile(nb, out / nb.name)


def _write_api_page(app) -> None:
    """``api.rst``: every public name of ``jupyter_modelops``, grouped by the package that defines it.

    Written as reStructuredText: the docstrings (numpydoc, through napoleon) are reST.
    """
    groups: dict[str, list[str]] = {}
    for name, module in jupyter_modelops._API.items():
        groups.setdefault(module, []).append(name)
    lines = ["API reference", "=============", "",
             "Everything below is importable as ``jupyter_modelops.NAME`` (``import jupyter_modelops as mo``).",
             "The package loads each name on first use, so ``import jupyter_modelops`` stays light.", ""]
    for module, names in groups.items():
        title = f"``{module}``"
        lines += [title, "-" * len(title), ""]
        for name in names:
            obj = getattr(jupyter_modelops, name)
            kind = "autoclass" if isinstance(obj, type) else "autofunction"
            lines += [f".. {kind}:: jupyter_modelops.{name}", ""]
    text = "\n".join(lines)
    page = HERE / "api.rst"
    if not page.exists() or page.read_text() != text:
        page.write_text(text)


def setup(app):
    app.connect("builder-inited", _copy_notebooks)
    app.connect("builder-inited", _write_api_page)
