"""Outbound requests fail alike before an answer, and within their time and size limits.

A failure before the server answered reads the same whatever the port did, so the
service cannot be used to map a network; an answer too large or too slow is cut off.
"""

import socket
import ssl
import struct
import threading

import pytest

from newsletters.services.core import outbound
from newsletters.services.core.outbound import OutboundFailed
from tests.support.mail import free_port
from tests.support.web import (
    PUBLIC_IN_TESTS,
    announced,
    answer,
    endless,
    https_serving,
    serving,
    silent,
    trickle,
)


def _resetting_port() -> tuple[socket.socket, threading.Thread]:
    """A port that accepts each connection and resets it at once."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def run() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, thread


def test_failures_before_an_answer_read_the_same_whatever_the_port_did(config, names):
    config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # so the ports behind the rule can be told
    config["OUTBOUND_TIMEOUT_SECONDS"] = 1.0
    names["feeds.example.com"] = ["127.0.0.1"]
    messages = {}
    messages["closed"] = _failure(f"http://feeds.example.com:{free_port()}/")
    listener, thread = _resetting_port()
    with listener:
        messages["reset"] = _failure(f"http://feeds.example.com:{listener.getsockname()[1]}/")
    thread.join()
    with serving({"/": silent}) as server:
        messages["silent"] = _failure(f"http://feeds.example.com:{server.port}/")
    del names["feeds.example.com"]  # and now the name does not resolve at all
    messages["no such host"] = _failure("http://feeds.example.com/")
    assert set(messages.values()) == {"could not connect to feeds.example.com"}, messages


def _failure(url: str) -> str:
    with pytest.raises(OutboundFailed) as failed:
        outbound.fetch(url)
    return str(failed.value)


def test_an_answer_larger_than_allowed_is_cut_off(config, public_127_0_0_2):
    routes = {"/endless": endless, "/announced": announced(10**9)}
    with serving(routes, host=PUBLIC_IN_TESTS) as public:
        for path in ("/endless", "/announced"):
            with pytest.raises(OutboundFailed) as failed:
                outbound.fetch(public.url(path), max_bytes=100_000)
            assert str(failed.value) == "the answer from 127.0.0.2 is over 100,000 bytes"


def test_a_trickling_answer_is_cut_off_at_the_deadline(config, public_127_0_0_2):
    with serving({"/trickle": trickle}, host=PUBLIC_IN_TESTS) as public:
        with pytest.raises(OutboundFailed) as failed:
            outbound.fetch(public.url("/trickle"), timeout=1)
    assert str(failed.value) == "127.0.0.2 took longer than 1 s to answer"


def test_http_errors_are_answers_with_their_status(config, public_127_0_0_2):
    with serving({}, host=PUBLIC_IN_TESTS) as public:
        response = outbound.fetch(public.url("/missing"))
    assert (response.status, response.reason) == (404, "Not Found")


def test_a_post_carries_its_body_and_headers(config, public_127_0_0_2):
    with serving({"/hook": answer(204)}, host=PUBLIC_IN_TESTS) as public:
        response = outbound.fetch(
            public.url("/hook"),
            method="POST",
            body=b'{"event": "test"}',
            headers={"Content-Type": "application/json", "X-Signature": "abc"},
        )
    [seen] = public.seen
    assert response.status == 204 and seen.method == "POST"
    assert (
        seen.headers["Content-Type"] == "application/json" and seen.headers["X-Signature"] == "abc"
    )


def test_https_checks_the_certificate_against_the_host_name(config, names, monkeypatch, tmp_path):
    config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    names["secure.example"] = names["impostor.example"] = ["127.0.0.1"]
    routes = {"/": answer(200, b"secure")}
    with https_serving(tmp_path, "secure.example", routes) as (server, cafile, server_names):
        trusting = ssl.create_default_context(cafile=cafile)
        monkeypatch.setattr(outbound.ssl, "create_default_context", lambda: trusting)
        response = outbound.fetch(f"https://secure.example:{server.port}/")
        assert response.body == b"secure" and server_names == ["secure.example"]
        assert server.seen[0].host == f"secure.example:{server.port}"
        config["OUTBOUND_TIMEOUT_SECONDS"] = 1.0
        assert _failure(f"https://impostor.example:{server.port}/") == (
            "could not connect to impostor.example"
        )
