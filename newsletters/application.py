"""The Flask app class: the pages mounted when first needed, extensions made on demand.

A cron command such as ``flask outbox drain`` builds the whole app, but has no use
for the admin views, the forms or Celery. Here the app is set up in two stages:

- the pages that mail links to (``on_first_link``): before the first link is built
  (``external_url``, for a mail) or the first template is looked up, so a send loads
  the reader pages its links name and not the console, the API or their forms;
- everything else that serves requests (``on_first_route``): before the first request
  context is made, so before anything of a request runs, even a request refused
  before its URL is matched (a host this site does not serve), and whenever the URL
  map or the blueprints are read in full (``url_for``, ``flask routes``).

A command that sends nothing builds no link and never imports the views.
"""

import atexit
import gc
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
    """Flask, with the pages set up when first needed: see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._link_setup: list[Callable[[Flask], None]] = []
        self._route_setup: list[Callable[[Flask], None]] = []
        self._setup_lock = threading.RLock()
        self._setup_thread: int | None = None  # the thread setting up, meanwhile
        super().__init__(*args, **kwargs)
        self.extensions = ExtensionsOnDemand(self.extensions)

    def on_first_link(self, setup: Callable[[Flask], None]) -> None:
        """Run ``setup(app)`` before the first link or template (it registers blueprints)."""
        self._link_setup.append(setup)

    def on_first_route(self, setup: Callable[[Flask], None]) -> None:
        """Run ``setup(app)`` before the first request, after the ``on_first_link`` ones."""
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

    def link_map(self) -> Map:
        """The URL map with at least the pages that mail links to."""
        self._set_up(self._link_setup)
        return self._url_map

    def iter_blueprints(self):  # type: ignore[override]
        """Flask reads this to look templates up; the pages that mail links to are enough
        outside a request (their template filters included), and a request has them all."""
        self._set_up(self._link_setup)
        return self._blueprints.values()

    def load_routes(self) -> None:
        """Set up everything that serves requests."""
        self._set_up(self._link_setup, self._route_setup)

    def _set_up(self, *stages: list[Callable[[Flask], None]]) -> None:
        """Run each stage's pending setups once, in order, even with threads racing. The
        thread doing it reads the URL map and the blueprints as they are meanwhile."""
        if not any(stages) or self._setup_thread == threading.get_ident():
            return
        with self._setup_lock:  # another thread waits here until the stages are done
            self._setup_thread = threading.get_ident()
            try:
                for pending in stages:
                    while pending:
                        # Taken off only once done, so no thread sees it empty too soon.
                        pending[0](self)
                        pending.pop(0)
            finally:
                self._setup_thread = None


_freezing_at_exit = threading.Lock()
_will_freeze = False


def freeze_at_exit() -> None:
    """Have this process end without the collector walking every object it loaded.

    On exit Python looks through every object still alive for reference cycles to
    free. For a process that loaded the app that walk took 0.3-0.4 s, a third of a
    cron command with nothing to do, and freed nothing of use: the memory goes back
    to the system whole. Frozen (``gc.freeze``), those objects are skipped. Exit
    handlers registered earlier, logging's among them, still run after this one.
    """
    global _will_freeze
    with _freezing_at_exit:
        if not _will_freeze:
            atexit.register(gc.freeze)
            _will_freeze = True
