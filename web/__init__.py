"""SkyBerth's composition root: settings, the FastAPI app, the command line."""

from web.app import create_app
from web.settings import Settings

__all__ = ["Settings", "create_app"]
