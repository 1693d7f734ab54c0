"""Behind a proxy: whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed.

One rule, the same on every server, applied by the WSGI entry point (each server's own
handling is switched off, so it cannot disagree):

- the headers count only when the connection comes from a trusted proxy: an address
  or network of ``trusted-proxies`` (``WSGI_TRUSTED_PROXIES`` at run time);
- the client's address (``REMOTE_ADDR``) is the rightmost address of
  ``X-Forwarded-For`` that is not a trusted proxy: each proxy appends the address it
  was connected from, so everything to the left of the first untrusted hop may have
  been written by the client itself. When every entry is trusted, the leftmost is the
  client. An entry that is not an address (``unknown``, a name) ends the walk: the
  address to its right stays;
- the scheme (``wsgi.url_scheme``) is the rightmost ``X-Forwarded-Proto`` value, the
  one the nearest proxy wrote, when it is ``http`` or ``https``;
- from any other address the headers change nothing: ``REMOTE_ADDR`` is the peer and
  the scheme is ``http`` (the servers listen in plain HTTP; uWSGI's http-socket would
  take X-Forwarded-Proto from anyone). They stay in the environ,
  for an application with rules of its own.

Entries are IPv4 or IPv6 addresses or networks in CIDR form (``10.0.0.0/8``); a
network with host bits set (``10.0.0.1/8``) is refused rather than guessed at.

This file runs in the image: standard library only, no containerize imports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: The run-time override, comma- or space-separated; 'none' trusts no proxy.
VARIABLE = "WSGI_TRUSTED_PROXIES"
NONE = "none"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxiesError(ValueError):
    """An entry that is not an address or a network."""


def configured(image: Sequence[str], environ: Mapping[str, str]) -> tuple[Network, ...]:
    """``WSGI_TRUSTED_PROXIES`` when set, else the image's *image* list."""
    text = environ.get(VARIABLE, "").strip()
    if text:
        if text.lower() == NONE:
            return ()
        return check(text.replace(",", " ").split(), where=VARIABLE)
    return check(image, where="trusted-proxies")


def check(entries: Iterable[str], *, where: str) -> tuple[Network, ...]:
    """The networks *entries* name; :class:`ProxiesError` names the first bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError as exc:
            hint = ""
            if "has host bits set" in str(exc):
                hint = f" (did you mean {ipaddress.ip_network(entry.strip(), strict=False)}?)"
            raise ProxiesError(
                f"{where}: {entry!r} is not an IP address or network{hint}; write "
                "addresses or CIDR networks, e.g. '10.0.0.0/8, 192.0.2.7, fd00::/8'"
            ) from None
    return tuple(networks)


def address(text: str) -> Address | None:
    """*text* as an IP address: an X-Forwarded-For entry or a peer; None if not one.

    A port (``192.0.2.1:4711``, ``[2001:db8::1]:4711``) is dropped, and an IPv4 address
    mapped into IPv6 (``::ffff:192.0.2.1``) is read as the IPv4 one.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        value = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(value, ipaddress.IPv6Address) and value.ipv4_mapped is not None:
        return value.ipv4_mapped
    return value


class TrustedProxies:
    """The rule above, for the networks given."""

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)

    def trusts(self, value: Address | None) -> bool:
        return value is not None and any(value in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address, from the connection's *peer* and its X-Forwarded-For."""
        if not forwarded_for or not self.trusts(address(peer)):
            return peer
        client = peer
        for entry in reversed(forwarded_for.split(",")):
            hop = address(entry)
            if hop is None:
                break
            client = str(hop)
            if not self.trusts(hop):
                break
        return client

    def scheme(self, peer: str, forwarded_proto: str | None) -> str:
        """'https' or 'http': the nearest trusted proxy's X-Forwarded-Proto, else 'http'."""
        if forwarded_proto and self.trusts(address(peer)):
            value = forwarded_proto.rpartition(",")[2].strip().lower()
            if value in ("http", "https"):
                return value
        return "http"

    def apply(self, environ: dict[str, Any]) -> None:
        """Set ``REMOTE_ADDR`` and ``wsgi.url_scheme`` (and ``HTTPS``) in *environ*."""
        if not self.networks:  # the common case, kept short: nothing is believed
            environ["wsgi.url_scheme"] = "http"
            environ.pop("HTTPS", None)
            return
        peer = environ.get("REMOTE_ADDR") or ""
        environ["REMOTE_ADDR"] = self.client(peer, environ.get("HTTP_X_FORWARDED_FOR"))
        scheme = self.scheme(peer, environ.get("HTTP_X_FORWARDED_PROTO"))
        environ["wsgi.url_scheme"] = scheme
        if scheme == "https":
            environ["HTTPS"] = "on"
        else:
            environ.pop("HTTPS", None)
