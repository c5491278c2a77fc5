"""Keep Pex ``detect-url`` from being used to reach this host's or its network's private services (SSRF).

Every hop is checked: a literal address in the URL, and every address a name
resolves to (through the connector's resolver, so the address checked is the
one connected to — a name cannot resolve public for the check and private for
the fetch). Redirects are followed by hand so each target is checked too.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver


class ForbiddenAddress(OSError):
    """The URL leads to a loopback, private, link-local or otherwise non-public address."""


def is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


def check_literal_host(host: str) -> None:
    """A URL whose host is an IP address: refuse non-public ones before connecting."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not is_public(host.strip("[]")):
        raise ForbiddenAddress(f"{host} is not a public address")


class PublicOnlyResolver(ThreadedResolver):
    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        if not results or not all(is_public(r["host"]) for r in results):
            raise ForbiddenAddress(f"{host} resolves to a non-public address")
        return results
