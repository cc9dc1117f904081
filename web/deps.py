"""Request dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from airspace.site import Site
from web.settings import Settings


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def _sites(request: Request) -> dict[str, Site]:
    return cast(dict[str, Site], request.app.state.sites)


SettingsDep = Annotated[Settings, Depends(_settings)]
SitesDep = Annotated[dict[str, Site], Depends(_sites)]
