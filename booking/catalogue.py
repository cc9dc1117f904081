"""The sites this instance serves, with their booking policies: a ``SiteCatalogue``.

Pure: built once from the loaded site files and the settings (``web.app``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airspace.site import Site, SiteId
from booking.rules import SitePolicy


@dataclass(frozen=True)
class StaticSiteCatalogue:
    """The sites this instance serves, with one booking policy each."""

    sites_by_id: dict[str, Site]
    default_policy: SitePolicy = field(default_factory=SitePolicy)
    policies: dict[str, SitePolicy] = field(default_factory=dict)

    def get(self, site_id: SiteId) -> Site | None:
        return self.sites_by_id.get(site_id)

    def policy(self, site_id: SiteId) -> SitePolicy:
        return self.policies.get(site_id, self.default_policy)
