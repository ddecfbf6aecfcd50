"""The client address a login or a cookie guess is counted against.

Crossbar reports the TCP peer ("tcp4:1.2.3.4:5678"). Behind a reverse proxy
that is the proxy, so every client would share one budget: when the peer is
one of ``trusted_proxies``, the X-Forwarded-For header of the WebSocket
handshake names the client instead. The header is read from the right (each
proxy appends the address it saw) and the first address that is not itself a
trusted proxy is the client; whatever a client wrote into the header itself
is further left and never read. Crossbar does not offer the PROXY protocol.

IPv6 clients get a whole prefix each (``ipv6_prefix`` bits, /64 by default),
since one host usually holds a /64 and could otherwise rotate addresses to
escape a per-address limit; IPv4-mapped IPv6 addresses count as IPv4.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def tcp_peer(transport: Any) -> str | None:
    """The IP address in Crossbar's peer string ("tcp4:1.2.3.4:5678", "tcp6:::1:5678"); None if not TCP."""
    peer = transport.get("peer") if isinstance(transport, dict) else None
    if not isinstance(peer, str):
        return None
    kind, _, rest = peer.partition(":")
    if kind not in ("tcp4", "tcp6") or ":" not in rest:
        return None
    return rest.rsplit(":", 1)[0]


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(transport: dict[str, Any]) -> list[str]:
    headers = transport.get("http_headers_received")
    value = headers.get("x-forwarded-for") if isinstance(headers, dict) else None
    if isinstance(value, (list, tuple)):  # a header sent more than once
        value = ",".join(v for v in value if isinstance(v, str))
    return value.split(",") if isinstance(value, str) else []


class ClientKeys:
    """Maps Crossbar's transport details to the key a client's attempts are counted under."""

    def __init__(self, trusted_proxies: Sequence[str] = (), ipv6_prefix: int = 64) -> None:
        self._proxies: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._ipv6_prefix = ipv6_prefix

    def _trusted(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self._proxies)

    def client(self, transport: Any) -> IPAddress | None:
        """The client's address: the TCP peer, or what trusted proxies say it is; None if not TCP."""
        peer = tcp_peer(transport)
        address = None if peer is None else _address(peer)
        if address is None or not self._trusted(address):
            return address
        for hop in reversed(_forwarded_for(transport)):
            forwarded = _address(hop)
            if forwarded is None:  # a garbled hop: nothing left of it can be trusted
                return address
            address = forwarded
            if not self._trusted(address):
                break
        return address

    def key(self, transport: Any) -> str | None:
        """The client's address as a throttle key: IPv4 whole, IPv6 by its prefix ("2001:db8::/64")."""
        address = self.client(transport)
        if address is None:
            return None
        if isinstance(address, ipaddress.IPv6Address):
            host_bits = 128 - self._ipv6_prefix  # integer masking: IPv6Network() costs several times more
            return f"{ipaddress.IPv6Address(int(address) >> host_bits << host_bits)}/{self._ipv6_prefix}"
        return str(address)
