"""The app the browser tests serve: ``web.app.create_app`` with the pages.

uvicorn imports this in its own process (``--factory``). Until ``create_app``
mounts the pages itself, they are added here; once it does, nothing is added.
"""

from __future__ import annotations

from fastapi import FastAPI

from web.app import create_app
from web.routes.pages import install_pages


def build() -> FastAPI:
    """Return the app for the settings in the environment, pages included."""
    app = create_app()
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/map" not in paths:
        install_pages(app)
    return app
