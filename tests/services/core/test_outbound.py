"""Outbound requests reach only the public internet, at every hop, by http or https alone.

``names`` answers DNS for the tests and ``public_127_0_0_2`` declares one loopback
address public (see ``conftest.py``); the servers are real.
"""

import socket

import pytest

from newsletters.services.core import outbound
from newsletters.services.core.outbound import OutboundFailed, OutboundRefused
from tests.support.web import PUBLIC_IN_TESTS, answer, redirect, serving


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
     "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1",
     "ff0e::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
     "64:ff9b::7f00:1", "64:ff9b::a00:1", "2002:7f00:1::1", "2002:c0a8:101::1", "2001:db8::1"],
)  # fmt: skip
def test_private_and_special_addresses_are_not_public(address):
    assert not outbound.is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8",
     "64:ff9b::808:808", "2002:808:808::1"],
)  # fmt: skip
def test_public_addresses_are_public(address):
    assert outbound.is_public_address(address)


def test_a_loopback_url_is_refused_and_never_reached(config):
    with serving({"/internal": answer(200, b"secret")}) as server:
        with pytest.raises(OutboundRefused) as refused:
            outbound.fetch(server.url("/internal"))
    assert str(refused.value) == "the address of 127.0.0.1 is not a public internet address"
    assert server.seen == []


def test_a_refused_address_is_not_even_connected_to(config, names, public_127_0_0_2):
    names["feeds.example.com"] = ["127.0.0.1"]
    names["mixed.example"] = [PUBLIC_IN_TESTS, "127.0.0.1"]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)  # a connection would wait here, accepted by the kernel
        port = listener.getsockname()[1]
        for host in ("127.0.0.1", "feeds.example.com", "mixed.example"):
            with pytest.raises(OutboundRefused):
                outbound.fetch(f"http://{host}:{port}/")
        with pytest.raises(BlockingIOError):
            listener.accept()


@pytest.mark.parametrize(
    "url", ["http://localhost:{port}/", "http://2130706433:{port}/", "http://0x7f.1:{port}/",
            "http://127.1:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://[::1]:{port}/",
            "http://0.0.0.0:{port}/"],
)  # fmt: skip
def test_other_spellings_of_this_machine_are_refused(config, url):
    with serving({"/": answer(200, b"secret")}) as server:
        with pytest.raises(OutboundRefused, match="is not a public internet address"):
            outbound.fetch(url.format(port=server.port))
    assert server.seen == []


def test_a_name_that_resolves_to_loopback_is_refused_without_naming_the_address(config, names):
    names["feeds.example.com"] = ["127.0.0.1"]
    with serving({"/rss": answer(200, b"secret")}) as server:
        with pytest.raises(OutboundRefused) as refused:
            outbound.fetch(f"http://feeds.example.com:{server.port}/rss")
    assert str(refused.value) == (
        "the address of feeds.example.com is not a public internet address"
    )
    assert server.seen == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(config, names, public_127_0_0_2):
    names["mixed.example"] = [PUBLIC_IN_TESTS, "127.0.0.1"]
    with serving({"/": answer(200, b"ok")}, host=PUBLIC_IN_TESTS) as server:
        with pytest.raises(OutboundRefused):
            outbound.fetch(f"http://mixed.example:{server.port}/")
    assert server.seen == []


def test_the_request_goes_to_the_resolved_address_under_the_host_name(config, names):
    config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    names["public.example"] = ["127.0.0.1"]
    with serving({"/feed": answer(200, b"<rss/>", {"ETag": '"v1"'})}) as server:
        response = outbound.fetch(f"http://public.example:{server.port}/feed?page=2")
    assert (response.status, response.body, response.headers["ETag"]) == (200, b"<rss/>", '"v1"')
    [seen] = server.seen
    assert (seen.host, seen.path, seen.peer) == (
        f"public.example:{server.port}",
        "/feed?page=2",
        "127.0.0.1",
    )


def test_a_name_that_rebinds_after_the_check_still_reaches_the_checked_address(
    config, names, public_127_0_0_2, monkeypatch
):
    answers = iter([[PUBLIC_IN_TESTS]])
    monkeypatch.setattr(outbound, "resolve", lambda host, port: next(answers, ["127.0.0.1"]))
    with serving({"/": answer(200, b"public")}, host=PUBLIC_IN_TESTS) as public:
        with serving({"/": answer(200, b"secret")}, port=public.port) as internal:
            response = outbound.fetch(f"http://rebind.example:{public.port}/")
            assert response.body == b"public"
            with pytest.raises(OutboundRefused):  # the next lookup says loopback: refused
                outbound.fetch(f"http://rebind.example:{public.port}/")
    assert len(public.seen) == 1 and internal.seen == []


def test_the_connected_peer_is_checked_again(config, names, public_127_0_0_2, monkeypatch):
    names["peer.example"] = [PUBLIC_IN_TESTS]
    real = socket.create_connection
    with serving({"/": answer(200, b"secret")}) as internal:
        # Whatever the address asked for, the connection lands on 127.0.0.1.
        def elsewhere(address, **kwargs):
            return real(("127.0.0.1", address[1]), **kwargs)

        monkeypatch.setattr(outbound.socket, "create_connection", elsewhere)
        with pytest.raises(OutboundRefused, match="peer.example is not a public internet address"):
            outbound.fetch(f"http://peer.example:{internal.port}/")
    assert internal.seen == []


def test_a_redirect_into_the_private_network_is_refused_at_the_hop(config, names, public_127_0_0_2):
    names["internal.example"] = ["127.0.0.1"]
    with serving({"/internal": answer(200, b"secret")}) as internal:
        routes = {
            "/by-address": redirect(internal.url("/internal")),
            "/by-name": redirect(f"http://internal.example:{internal.port}/internal", 307),
        }
        with serving(routes, host=PUBLIC_IN_TESTS) as public:
            for path, host in (("/by-address", "127.0.0.1"), ("/by-name", "internal.example")):
                with pytest.raises(OutboundRefused) as refused:
                    outbound.fetch(public.url(path))
                assert str(refused.value) == (
                    f"the address of {host} is not a public internet address"
                )
    assert [s.path for s in public.seen] == ["/by-address", "/by-name"]
    assert internal.seen == []


def test_redirects_are_followed_up_to_the_limit(config, public_127_0_0_2):
    routes = {"/a": redirect("/b", 301), "/b": redirect("/feed", 303), "/feed": answer(200, b"ok"),
              "/loop": redirect("/loop")}  # fmt: skip
    with serving(routes, host=PUBLIC_IN_TESTS) as public:
        response = outbound.fetch(public.url("/a"))
        assert (response.body, response.url) == (b"ok", public.url("/feed"))
        with pytest.raises(OutboundFailed, match="127.0.0.2 redirected more than 5 times"):
            outbound.fetch(public.url("/loop"))
        assert len([s for s in public.seen if s.path == "/loop"]) == 6


def test_without_following_redirects_the_redirect_is_the_answer(config, public_127_0_0_2):
    routes = {"/a": redirect("/b", 307), "/b": answer(200, b"ok")}
    with serving(routes, host=PUBLIC_IN_TESTS) as public:
        response = outbound.fetch(public.url("/a"), method="POST", follow_redirects=False)
        assert response.status == 307
        assert response.headers["Location"] == "/b"
        assert [s.path for s in public.seen] == ["/a"]


def test_a_destination_is_checked_before_it_is_saved(config, names, public_127_0_0_2):
    names["hooks.example.com"] = [PUBLIC_IN_TESTS]
    names["inside.example"] = ["10.0.0.5"]
    assert outbound.check_destination("https://hooks.example.com/in").host == "hooks.example.com"
    with pytest.raises(OutboundRefused, match="not a public internet address"):
        outbound.check_destination("https://inside.example/in")
    with pytest.raises(OutboundRefused, match="not a public internet address"):
        outbound.check_destination("http://127.0.0.1:8080/in")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.2:70/_stats", "ftp://feeds.example.com/x",
            "dict://127.0.0.2:11211/stats", "javascript:alert(1)", "//feeds.example.com/rss",
            "feeds.example.com/rss"],
)  # fmt: skip
def test_only_http_and_https_are_fetched(config, url):
    with pytest.raises(OutboundRefused, match="only http:// and https:// URLs can be fetched"):
        outbound.fetch(url)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.2:70/_x", "ftp://x/"])
def test_a_redirect_to_another_scheme_is_refused(config, public_127_0_0_2, location):
    with serving({"/": redirect(location)}, host=PUBLIC_IN_TESTS) as public:
        with pytest.raises(OutboundRefused) as refused:
            outbound.fetch(public.url("/"))
    assert str(refused.value) == (
        "127.0.0.2 redirected to a refused URL: only http:// and https:// URLs can be fetched"
    )


@pytest.mark.parametrize(
    "url", ["http://user:secret@feeds.example.com/rss", "https://token@feeds.example.com/",
            "http://feeds.example.com:99999/", "http:///rss", "http://feeds.example.com/a b",
            "http://feeds.example.com/\r\nX-Injected: 1"],
)  # fmt: skip
def test_urls_with_credentials_or_broken_parts_are_refused(config, names, url):
    with pytest.raises(OutboundRefused):
        outbound.fetch(url)
    assert names.calls == []  # refused before any lookup
