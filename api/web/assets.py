"""Where the pages find their static files (served at /ui/static/, api/web/static/)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Vendored from npm by static/vendor/fetch.sh (versions and licences in static/vendor/README.md).
VENDORED = {
    "htmx": "vendor/htmx.org@2.0.11/htmx.min.js",
    "axe": "vendor/axe-core@4.14.1/axe.min.js",
}
# The workbench's own files.
OWN = {
    "css": "workbench.css",
    "js": "workbench.js",
}
