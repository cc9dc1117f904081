"""SkyBerth airspace package: pure geometry of sites, volumes and corridors."""
