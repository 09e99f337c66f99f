"""The Flask app class: the pages mounted when first needed, extensions made on demand.

A cron command such as ``flask outbox drain`` builds the whole app, but has no use
for the admin views, the forms or Celery. Here the blueprints are registered the
first time anything reads the URL map: the first request (before it is dispatched),
``url_for`` in a request, or a mail building a link with ``external_url``. So every
route is there whenever a URL is matched or built, and a command that builds none
never imports the views.
"""

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
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
    """Flask, with the routes registered the first time the URL map (or the list of
    blueprints) is read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._route_setup: list[Callable[[Flask], None]] = []
        self._routes_lock = threading.RLock()
        self._routes_loader: int | None = None  # the thread registering them, meanwhile
        super().__init__(*args, **kwargs)
        self.extensions = ExtensionsOnDemand(self.extensions)

    def on_first_route(self, setup: Callable[[Flask], None]) -> None:
        """Run ``setup(app)`` before the URL map is first used (it may register blueprints)."""
        self._route_setup.append(setup)

    @property  # type: ignore[override]
    def url_map(self) -> Map:
        if self._route_setup and self._routes_loader != threading.get_ident():
            self.load_routes()
        return self._url_map

    @url_map.setter
    def url_map(self, value: Map) -> None:
        self._url_map = value

    @property  # type: ignore[override]
    def blueprints(self) -> dict:
        if self._route_setup and self._routes_loader != threading.get_ident():
            self.load_routes()
        return self._blueprints

    @blueprints.setter
    def blueprints(self, value: dict) -> None:
        self._blueprints = value

    def load_routes(self) -> None:
        """Register whatever serves requests now, once, even with threads racing."""
        with self._routes_lock:  # another thread waits here until every route is there
            self._routes_loader = threading.get_ident()
            try:
                while self._route_setup:
                    # Taken off the list only once done, so no thread sees it empty too soon.
                    self._route_setup[0](self)
                    self._route_setup.pop(0)
            finally:
                self._routes_loader = None
