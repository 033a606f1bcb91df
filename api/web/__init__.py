"""The web workbench: server-rendered pages for curators and reviewers under /ui/ (Jinja2 and
htmx, no build step), each a client of the GraphQL API run in-process with the signed-in user's
identity. See README.md ("Workbench") and the modules' docstrings:

- routes.py: the routes and the security headers; workbench.py: what every page shares;
- pages_read.py / pages_write.py: the pages; forms.py: forms to API inputs and back;
- client.py: running documents as the user; documents.py + graphql/: the documents;
- features.py: which parts of the contract the API has yet; session.py + secret.py: sign-in;
- render.py + templates/: HTML; static/: CSS, the small script, vendored htmx and axe-core.
"""

from __future__ import annotations

from api.web.routes import workbench_routes

__all__ = ["workbench_routes"]
