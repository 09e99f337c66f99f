"""The Flask app class: the pages mounted when first needed, extensions made on demand.

A cron command such as ``flask outbox drain`` builds the whole app, but has no use
for the admin views, the forms or Celery. Here what serves requests (the blueprints,
their error pages, hooks and headers) is set up once, before the first request
context is made, so before anything of a request runs: even a request refused before
its URL is matched, such as one for a host this site does not serve. A URL built
outside a request (a mail's link, through ``external_url``) and a template looked up
in the blueprints set it up too. So every route is there whenever a URL is matched
or built, and a command that builds none never imports the views.
"""

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.ctx import RequestContext
from werkzeug.routing import Map


class ExtensionsOnDemand(dict):
    """``app.extensions``, where a costly extension is made the first time it is read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.makers: dict[str, Callable[[], None]] = {}

    def on_demand(self, name: str, make: Callable[[], None]) -> None:
        """``make()`` sets ``self[name]`` the first time it is asked for."""
        self.makers[name] = make

    def __missing__(self, name: str) -> Any:
        make = self.makers.pop(name, None)
        if make is None:
            raise KeyError(name)
        make()
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self.makers


class Newsletters(Flask):
    """Flask, with what serves requests set up before the first request, or the first
    time the URL map (or the list of blueprints) is read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._route_setup: list[Callable[[Flask], None]] = []
        self._routes_lock = threading.RLock()
        self._routes_loader: int | None = None  # the thread registering them, meanwhile
        super().__init__(*args, **kwargs)
        self.extensions = ExtensionsOnDemand(self.extensions)

    def on_first_route(self, setup: Callable[[Flask], None]) -> None:
        """Run ``setup(app)`` before the first request or URL (it may register blueprints)."""
        self._route_setup.append(setup)

    def request_context(self, environ: dict) -> RequestContext:
        """Every request, the test client's included, starts here: before its host is
        checked, its URL matched, or Flask counts it as the first request (after which
        no hook may be added)."""
        self.load_routes()
        return super().request_context(environ)

    @property  # type: ignore[override]
    def url_map(self) -> Map:
        self.load_routes()
        return self._url_map

    @url_map.setter
    def url_map(self, value: Map) -> None:
        self._url_map = value

    @property  # type: ignore[override]
    def blueprints(self) -> dict:
        self.load_routes()
        return self._blueprints

    @blueprints.setter
    def blueprints(self, value: dict) -> None:
        self._blueprints = value

    def load_routes(self) -> None:
        """Register whatever serves requests, once, even with threads racing. The thread
        doing it reads the URL map and the blueprints as they are meanwhile."""
        if not self._route_setup or self._routes_loader == threading.get_ident():
            return
        with self._routes_lock:  # another thread waits here until every route is there
            self._routes_loader = threading.get_ident()
            try:
                while self._route_setup:
                    # Taken off the list only once done, so no thread sees it empty too soon.
                    self._route_setup[0](self)
                    self._route_setup.pop(0)
            finally:
                self._routes_loader = None
