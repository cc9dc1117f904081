"""SkyBerth booking package."""
