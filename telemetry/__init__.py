"""SkyBerth telemetry package."""
