"""SkyBerth's composition root: settings, the FastAPI app, the command line.

Entry points: ``web.app.create_app(settings)`` and the ``skyberth`` command
(``web.cli:app``). Nothing is imported here so the command line starts fast.
"""
