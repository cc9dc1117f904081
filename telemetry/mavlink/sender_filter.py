"""Which source addresses a listening link accepts datagrams or connections from.

``--mavlink-allow CIDR`` (repeatable; ``SKYBERTH_MAVLINK_ALLOW``) narrows a
listener, which by the ground-station convention takes anyone on
``0.0.0.0:14550``, to the ranges the site's drones and radios live in. A sender
outside them is refused before its bytes reach the codec, and counted on the link.

The check runs for every datagram, so its answer per host is cached: after the
first datagram from a host it costs one dict lookup. The cache is bounded (a flood
from many addresses clears it rather than grow it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAX_CACHED_HOSTS: Final = 4096


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Return the networks written as ``10.0.0.0/8``, ``192.168.1.7`` or ``::1/128``.

    Raises ``ValueError`` naming the text that is not a network.
    """
    networks: list[IPNetwork] = []
    for text in cidrs:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"--mavlink-allow {text!r}: {exc}") from exc
    return tuple(networks)


class SenderFilter:
    """``allows(host)``: whether ``host`` (text, as ``recvfrom`` gives it) lies in
    one of the networks. Built once per link; cheap per call after the first."""

    __slots__ = ("_cache", "networks")

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self.networks = tuple(networks)
        self._cache: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        """True when ``host`` is inside an allowed network (cached per host)."""
        known = self._cache.get(host)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            allowed = False
        else:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            allowed = any(address in net for net in self.networks)
        if len(self._cache) >= _MAX_CACHED_HOSTS:
            self._cache.clear()
        self._cache[host] = allowed
        return allowed
