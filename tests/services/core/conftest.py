"""Fixtures for the outbound-request tests: settings, and the two seams that stand in for DNS.

Real servers on loopback addresses stand in for the internet. ``outbound.resolve``
(what a name resolves to) and ``outbound.is_allowed_address`` (which loopback
address counts as public) are the only parts replaced.
"""

import socket

import pytest
from flask import Flask

from newsletters.config import DEFAULTS
from newsletters.services.core import outbound
from tests.support.web import PUBLIC_IN_TESTS


@pytest.fixture
def config():
    """A bare app context with the outbound settings' defaults (no database is involved)."""
    app = Flask(__name__)
    app.config.update({k: v for k, v in DEFAULTS.items() if k.startswith("OUTBOUND_")})
    app.config["OUTBOUND_TIMEOUT_SECONDS"] = 5.0
    with app.app_context():
        yield app.config


class Names(dict):
    """Host name to addresses; a name not here does not resolve. ``calls`` lists lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        """What ``outbound.resolve`` answers while the test runs."""
        self.calls.append(host)
        if host not in self:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self[host]


@pytest.fixture
def names(monkeypatch) -> Names:
    """A resolver the test fills in: ``names["feeds.example.com"] = ["127.0.0.1"]``."""
    table = Names()
    monkeypatch.setattr(outbound, "resolve", table.resolve)
    return table


@pytest.fixture
def public_127_0_0_2(monkeypatch):
    """Declare 127.0.0.2 a public address; 127.0.0.1 stays private."""
    rule = outbound.is_public_address
    monkeypatch.setattr(
        outbound, "is_allowed_address", lambda ip: ip == PUBLIC_IN_TESTS or rule(ip)
    )
