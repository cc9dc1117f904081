"""SkyBerth simulator package."""
