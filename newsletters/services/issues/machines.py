"""Which fetches of the open pixel, and which clicks, a machine made rather than a reader.

Counted apart, never dropped: the console shows both. The rules, and why each holds:

- **Image proxies that fetch at delivery.** Gmail fetches every image through its
  proxy (user agent ``GoogleImageProxy``), Yahoo through ``YahooMailProxy``. Gmail
  fetches when the reader opens, but caches: the first fetch may be a reader, later
  ones never reach us. We count all of them as machine opens, as the proxy hides
  whether a person was there.
- **Apple Mail Privacy Protection** fetches every image of every message when it is
  delivered, whether or not anyone reads it. Its fetches carry the bare user agent
  ``Mozilla/5.0`` (no browser, no system) and come from Apple's network (17.0.0.0/8,
  in ``MACHINE_OPEN_NETWORKS``, to which an operator can add Apple's published relay
  egress ranges).
- **Link scanners** (Proofpoint, Mimecast, Barracuda, Microsoft's and Symantec's) follow
  every link at delivery: a ``HEAD`` request, a known scanner's user agent, a plain HTTP
  library, or no user agent at all.
- **Too soon to be a person.** A fetch or click within ``MACHINE_OPEN_SECONDS`` of the
  issue starting to send is a machine acting on delivery. The counting token names no
  reader, so "soon" is measured from the issue's start, not from each reader's copy.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from flask import current_app

# Image proxies that fetch on the reader's behalf (or on delivery).
PROXY_AGENTS = ("googleimageproxy", "ggpht.com", "yahoomailproxy")
# Security scanners and programs that follow links without a person.
SCANNER_AGENTS = (
    "barracuda", "proofpoint", "urldefense", "mimecast", "symantec", "messagelabs",
    "forcepoint", "trendmicro", "bingpreview", "python-", "go-http-client", "curl/",
    "wget", "libwww", "okhttp", "java/", "headlesschrome", "bot", "spider", "crawler",
)  # fmt: skip
# What Apple's Mail Privacy Protection proxy sends, and nothing more.
APPLE_PROXY_AGENT = "mozilla/5.0"


@dataclass(frozen=True)
class Fetch:
    """What we know of one request: no more than a log line would hold, and none of it kept."""

    method: str
    user_agent: str
    address: str | None
    at: datetime
    issue_started: datetime | None


@lru_cache(maxsize=16)
def _networks(ranges: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(r.strip(), strict=False) for r in ranges if r.strip())


def in_machine_network(address: str | None) -> bool:
    """Whether the address lies in one of ``MACHINE_OPEN_NETWORKS``."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = _networks(tuple(current_app.config["MACHINE_OPEN_NETWORKS"]))
    return any(ip in network for network in networks)


def too_soon(fetch: Fetch) -> bool:
    """Whether the request came within ``MACHINE_OPEN_SECONDS`` of the issue's start."""
    window = current_app.config["MACHINE_OPEN_SECONDS"]
    if not window or fetch.issue_started is None:
        return False
    return (fetch.at - fetch.issue_started).total_seconds() < window


def _agent(fetch: Fetch) -> str:
    return fetch.user_agent.strip().lower()


def is_machine_open(fetch: Fetch) -> bool:
    """Whether a fetch of the open pixel was a machine's (see the module's rules)."""
    agent = _agent(fetch)
    return (
        not agent
        or fetch.method == "HEAD"
        or any(mark in agent for mark in PROXY_AGENTS + SCANNER_AGENTS)
        or agent == APPLE_PROXY_AGENT
        or in_machine_network(fetch.address)
        or too_soon(fetch)
    )


def is_machine_click(fetch: Fetch) -> bool:
    """Whether a click was a scanner's or a proxy's (see the module's rules)."""
    agent = _agent(fetch)
    return (
        not agent
        or fetch.method == "HEAD"
        or any(mark in agent for mark in SCANNER_AGENTS + PROXY_AGENTS)
        or too_soon(fetch)
    )
