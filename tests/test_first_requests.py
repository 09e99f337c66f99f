"""The pages are set up when the first request comes (``newsletters.application``).

A worker's first requests may arrive together, on as many threads as gunicorn gives it,
and the very first may be one the site refuses before matching its URL. Each must get
the page it asked for, and so must every request after it.
"""

import http.client
import threading

import pytest
from werkzeug.serving import make_server

from newsletters.services.mail.links import external_url

# Path, and what its page says, in several of the blueprints set up on first use.
PAGES = {
    "/": "<h1>Explore more newsletters</h1>",
    "/healthz": '"status":"ok"',
    "/admin/login": "<h1>Sign in</h1>",
    "/archive/no-such-newsletter": "<h1>Page not found</h1>",
    "/no-such-page": "<h1>Page not found</h1>",
}
STATUS = {"/": 200, "/healthz": 200, "/admin/login": 200}


@pytest.fixture
def server(app):
    """The app behind a real threaded HTTP server, before it has answered anything."""
    assert app._route_setup, "the pages must not be set up before the first request"
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join()


def fetch(port: int, path: str, host: str = "newsletters.test") -> tuple[int, str, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Host": host, "Accept": "text/html"})
        response = connection.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        connection.close()


def test_first_requests_racing_on_many_threads_each_get_their_page(server):
    assert_racing_requests_get_their_pages(server)


def test_a_mail_link_built_first_still_leaves_every_page_to_the_first_requests(app, server):
    with app.app_context():  # as a worker builds a mail's links, outside any request
        link = external_url("public.unsubscribe", token="t0ken")
    assert link.startswith("http://newsletters.test/") and "t0ken" in link
    assert_racing_requests_get_their_pages(server)


def assert_racing_requests_get_their_pages(server: int) -> None:
    paths = [path for path in PAGES for _ in range(4)]
    start = threading.Barrier(len(paths))
    answers: dict[int, tuple[int, str, dict]] = {}

    def first_request(index: int, path: str) -> None:
        start.wait()
        answers[index] = fetch(server, path)

    threads = [threading.Thread(target=first_request, args=item) for item in enumerate(paths)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for index, path in enumerate(paths):
        status, body, headers = answers[index]
        assert status == STATUS.get(path, 404), (path, status, body[:300])
        assert PAGES[path] in body, (path, body[:300])
        assert "Content-Security-Policy" in headers, path  # the site's headers, too


@pytest.fixture
def settings(settings):
    settings["TRUSTED_HOSTS"] = ["newsletters.test"]
    return settings


def test_a_refused_host_first_still_gets_the_sites_answer_and_the_site_keeps_working(server):
    status, body, headers = fetch(server, "/", host="elsewhere.example")
    assert status == 400
    assert "does not answer to that host name" in body
    assert "Content-Security-Policy" in headers

    for path in PAGES:
        status, body, _ = fetch(server, path)
        assert status == STATUS.get(path, 404), (path, status, body[:300])
        assert PAGES[path] in body, (path, body[:300])
