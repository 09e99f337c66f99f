"""Outbound requests: what the service fetches or posts on an admin's say-so.

Feed URLs today; webhook endpoints and certificate URLs use the same door, so
that an admin's URL cannot reach into this machine or its network. A request:

- goes only to an ``http://`` or ``https://`` URL without a user name or
  password (an admin's URL has no business carrying credentials);
- is refused when *any* address its host resolves to is not on the public
  internet (:func:`is_public_address`), connects to exactly the address checked
  and checks the peer again, so DNS rebinding after the check changes nothing;
- follows at most ``max_redirects`` redirects itself, each hop checked alike,
  or none with ``follow_redirects=False`` (webhooks: the 3xx is the answer);
- keeps one deadline for the whole exchange and reads at most ``max_bytes``.

``OUTBOUND_ALLOW_PRIVATE_NETWORKS`` lifts the address rule (development and
tests only). Every failure before the server answered (no such host; a closed,
filtered or resetting port; TLS; silence) reads "could not connect to HOST" and
is reported when the deadline has passed, so neither words nor time map the
network. Any status is returned as it is, 4xx and 5xx included::

    response = outbound.fetch(url, headers={"User-Agent": "..."})
    response = outbound.fetch(url, method="POST", body=payload,
                              headers={"Content-Type": "application/json"})
"""

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any, NoReturn
from urllib.parse import quote, urljoin, urlsplit

from flask import current_app

from newsletters.services.core import outbound_budget as budgets
from newsletters.services.core.public_addresses import is_public_address

log = logging.getLogger(__name__)

SCHEMES = {"http": 80, "https": 443}
REDIRECTS = {301, 302, 303, 307, 308}
# A redirect to another host must not carry these along.
CREDENTIAL_HEADERS = {"authorization", "cookie", "proxy-authorization"}
# Printable ASCII stays as typed; anything else in a path is percent-encoded.
SAFE_IN_PATH = "".join(chr(c) for c in range(33, 127))


class OutboundError(Exception):
    """A request that got no usable answer; the message can be shown to an admin."""


class OutboundRefused(OutboundError):
    """The URL or a redirect breaks the rule: its scheme, credentials or address."""


class OutboundFailed(OutboundError):
    """No connection, or an answer too large, too slow, or redirected too often."""


@dataclass(frozen=True)
class OutboundResponse:
    """The final answer, after any redirects; ``url`` is where it came from."""

    status: int
    reason: str
    headers: Message
    body: bytes
    url: str


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks of its form: where to connect and what to ask."""

    url: str
    scheme: str
    host: str
    port: int
    path: str


def check_url(url: str) -> Target:
    """The parts of ``url``, or :class:`OutboundRefused` when its form breaks the rule.

    Saving an admin's URL calls this; :func:`fetch` calls it again at every hop.
    The address rule needs DNS, which changes, so it applies when fetching.
    """
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise OutboundRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused("the URL is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise OutboundRefused("only http:// and https:// URLs can be fetched")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("the URL must not carry a user name or password")
    if not parts.hostname or port == 0:
        raise OutboundRefused("the URL has no host name or port to connect to")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise OutboundRefused("the URL's host name is not valid") from None
    path = quote(parts.path or "/", safe=SAFE_IN_PATH)
    query = quote(parts.query, safe=SAFE_IN_PATH)
    return Target(url, scheme, host, port or SCHEMES[scheme], path + (f"?{query}" if query else ""))


def check_destination(url: str) -> Target:
    """:func:`check_url`, and the address rule for the addresses the host resolves to now.

    For a URL saved to be posted to later (a webhook endpoint): refused at once rather
    than at the first delivery. :func:`fetch` still checks again every time.
    """
    target = check_url(url)
    budget = budgets.Budget(
        0.0, 0.0, 0, bool(current_app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"])
    )
    try:
        _vetted_addresses(target, budget)
    except OSError:
        raise OutboundRefused(f"the host name {target.host} does not resolve") from None
    return target


def is_allowed_address(address: str) -> bool:
    """The address rule :func:`fetch` applies (tests replace it to make one loopback public)."""
    return is_public_address(address)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace it to answer without DNS)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in found))


def fetch(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
    max_redirects: int = 5,
    follow_redirects: bool = True,
) -> OutboundResponse:
    """Send one request under the rule above, following redirects; see the module's notes."""
    config = current_app.config
    seconds = float(timeout or config["OUTBOUND_TIMEOUT_SECONDS"])
    size = int(max_bytes or config["OUTBOUND_MAX_BYTES"])
    private = bool(config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"])
    budget = budgets.Budget(time.monotonic() + seconds, seconds, size, private)
    headers = dict(headers or {})
    target = first = check_url(url)
    for _ in range(max_redirects + 1):
        response = _exchange(target, method, body, headers, budget)
        location = response.headers.get("Location") if response.status in REDIRECTS else None
        if not location or not follow_redirects:
            return response
        try:
            after = check_url(urljoin(target.url, location))
        except OutboundRefused as exc:
            raise OutboundRefused(f"{target.host} redirected to a refused URL: {exc}") from None
        if (after.scheme, after.host, after.port) != (target.scheme, target.host, target.port):
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        if (response.status == 303 and method != "HEAD") or (
            response.status in (301, 302) and method == "POST"
        ):
            method, body = "GET", None  # as browsers do; the body's headers go with it
            headers = {k: v for k, v in headers.items() if not k.lower().startswith("content-")}
        target = after
    raise OutboundFailed(f"{first.host} redirected more than {max_redirects} times")


def _exchange(target: Target, method, body, headers, budget: budgets.Budget) -> OutboundResponse:
    """One request to one checked target, under the budget; a redirect is returned unread."""
    connection = stop_clock = response = None
    try:
        try:
            addresses = _vetted_addresses(target, budget)
            connection, stop_clock = _connect(target, addresses, budget)
            connection.request(method, target.path, body, {"Connection": "close", **headers})
            response = connection.getresponse()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            _could_not_connect(target, budget, exc)
        try:
            data = b"" if response.status in REDIRECTS else budgets.read_capped(response, budget)
        except budgets.TooLarge:
            raise _too_big(target, budget) from None
        except (OSError, http.client.HTTPException) as exc:
            if budget.remaining() <= 0:
                raise _too_slow(target, budget) from None
            raise OutboundFailed(f"the answer from {target.host} broke off") from exc
        if budget.remaining() <= 0:  # the clock cut the answer short: what was read is not all
            raise _too_slow(target, budget)
        reply = (response.status, response.reason, response.headers, data, target.url)
        return OutboundResponse(*reply)
    finally:
        if stop_clock is not None:
            stop_clock()
        for part in (response, connection):  # with Connection: close, the answer owns the socket
            if part is not None:
                part.close()


def _vetted_addresses(target: Target, budget: budgets.Budget) -> list[str]:
    """The host's addresses, every one allowed, or :class:`OutboundRefused`."""
    try:
        addresses = [str(ipaddress.ip_address(target.host))]
    except ValueError:
        # The system resolver's own timeouts bound the lookup; the deadline counts it.
        addresses = resolve(target.host, target.port)
    if not budget.allow_private and not all(is_allowed_address(a) for a in addresses):
        raise OutboundRefused(f"the address of {target.host} is not a public internet address")
    return addresses


def _connect(
    target: Target, addresses, budget: budgets.Budget
) -> tuple[http.client.HTTPConnection, Any]:
    """A connection to the first vetted address that answers (never to the name again),
    and the function that stops its clock."""
    failure: OSError = TimeoutError("no time left to connect")
    for address in addresses:
        if budget.remaining() <= 0:
            break
        try:
            sock = socket.create_connection((address, target.port), timeout=budget.remaining())
        except OSError as exc:
            failure = exc
            continue
        stop_clock = budgets.cut_at_deadline(sock, budget)
        try:
            _check_peer(sock, address, target, budget)
            if target.scheme == "https":
                context = ssl.create_default_context()
                # Certificate and SNI are checked against the host name, not the address.
                sock = context.wrap_socket(sock, server_hostname=target.host)
                connection = http.client.HTTPSConnection(target.host, target.port, context=context)
            else:
                connection = http.client.HTTPConnection(target.host, target.port)
        except BaseException:
            stop_clock()
            sock.close()
            raise
        connection.sock = sock
        return connection, stop_clock
    raise failure


def _check_peer(sock: socket.socket, address: str, target: Target, budget: budgets.Budget) -> None:
    """Refuse a connection whose far end is not the address that was checked."""
    peer = sock.getpeername()[0]
    same = ipaddress.ip_address(peer.split("%")[0]) == ipaddress.ip_address(address.split("%")[0])
    if not same or not (budget.allow_private or is_allowed_address(peer)):
        raise OutboundRefused(f"the address of {target.host} is not a public internet address")


def _could_not_connect(target: Target, budget: budgets.Budget, exc: BaseException) -> NoReturn:
    """Fail the same way, at the same moment, whatever stopped the connection."""
    log.info("outbound request to %s got no answer: %r", target.host, exc)
    time.sleep(budget.remaining())
    raise OutboundFailed(f"could not connect to {target.host}") from None


def _too_slow(target: Target, budget: budgets.Budget) -> OutboundFailed:
    return OutboundFailed(f"{target.host} took longer than {budget.seconds:g} s to answer")


def _too_big(target: Target, budget: budgets.Budget) -> OutboundFailed:
    return OutboundFailed(f"the answer from {target.host} is over {budget.max_bytes:,} bytes")
