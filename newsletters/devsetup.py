"""Development settings for ``make run``: a ``.env`` of its own, and where to go next.

``make run`` runs ``python -m newsletters.devsetup --host H --port P`` in the
checkout and evaluates what it prints (shell assignments) before serving:

- Without a ``.env``, it writes one (readable by its owner only) that starts
  with :data:`MARKER`: ``APP_ENV=development``, a fresh ``SECRET_KEY`` and
  ``SITE_URL=http://H:P``. Every ``flask`` command run from the checkout, in
  any shell, then reads the same development settings.
- A ``.env`` that starts with :data:`MARKER` is this module's own: its
  ``SITE_URL`` line follows the host and port of each ``make run``.
- Any other ``.env`` is the operator's and is never changed. The server gets
  ``SITE_URL=http://H:P`` and ``APP_ENV=development`` in its environment only
  for the settings neither the environment nor that file gives.

It also prints, as the shell variable ``welcome``, the block ``make run`` shows
before serving: the addresses to open and the commands to run in another shell.
"""

import argparse
import os
import secrets
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from newsletters.config import DEFAULTS

MARKER = "# Development settings written by make run; delete this file to start over."
MARKER_PREFIX = "# Development settings written by make run"
# Listening on every interface: links still have to name one address a browser can open.
WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


def site_url(host: str, port: int) -> str:
    """The base URL of a server listening on ``host``:``port``."""
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}"


def is_generated(env_file: Path) -> bool:
    """Whether ``env_file`` is one this module wrote (its first line is the marker)."""
    with env_file.open(encoding="utf-8", errors="replace") as handle:
        return handle.readline().startswith(MARKER_PREFIX)


def development_env(url: str) -> str:
    """The text of a new development ``.env``, with a freshly generated secret key."""
    lines = [MARKER, "APP_ENV=development", f"SECRET_KEY={secrets.token_urlsafe(48)}"]
    return "\n".join([*lines, f"SITE_URL={url}", ""])


def _is_site_url_line(line: str) -> bool:
    """Whether a ``.env`` line sets ``SITE_URL`` (``export`` prefix allowed)."""
    words = line.strip().removeprefix("export ").lstrip()
    return words.split("=", 1)[0].strip() == "SITE_URL" and "=" in words


def with_site_url(text: str, url: str) -> str:
    """``.env`` text with its ``SITE_URL`` line set to ``url`` (added when missing)."""
    lines = text.splitlines(keepends=True)
    replaced = False
    for index, line in enumerate(lines):
        if _is_site_url_line(line):
            lines[index] = f"SITE_URL={url}\n"
            replaced = True
    if not replaced:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(f"SITE_URL={url}\n")
    return "".join(lines)


def _write_private(env_file: Path, text: str) -> None:
    """Replace ``env_file`` with ``text`` in one step, readable by its owner only."""
    fd, temporary = tempfile.mkstemp(dir=env_file.parent, prefix=".env.", text=True)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, env_file)
    except BaseException:
        os.unlink(temporary)
        raise


def prepare_env_file(env_file: Path, url: str) -> str:
    """Write or update the development ``.env``; return what was done, in a few words."""
    if not env_file.exists():
        _write_private(env_file, development_env(url))
        return f"wrote development settings to {env_file.name}"
    if not is_generated(env_file):
        return f"using your own {env_file.name}, unchanged"
    text = env_file.read_text(encoding="utf-8")
    updated = with_site_url(text, url)
    if updated == text:
        return f"using the development settings in {env_file.name}"
    _write_private(env_file, updated)
    return f"pointed SITE_URL in {env_file.name} at {url}"


@dataclass(frozen=True)
class ServerSettings:
    """What the server's environment needs beyond the ``.env`` a bare command reads."""

    exports: dict[str, str]
    command_prefix: dict[str, str]


def server_settings(env_file: Path, url: str, environ: dict[str, str]) -> ServerSettings:
    """The variables to export for the server, and those other shells' commands need too.

    The server takes each setting from the environment, else from ``.env``,
    else the development default. ``APP_ENV`` is always exported (``make run``
    would otherwise default it over the file's); ``SITE_URL`` only when neither
    gives one. A ``flask`` command in another shell reads only ``.env`` (else
    the production defaults), so the settings where the two differ are shown
    in front of the commands printed for the developer.
    """
    file_values = dotenv_values(env_file) if env_file.exists() else {}
    defaults = {
        "APP_ENV": ("development", DEFAULTS["APP_ENV"]),
        "SITE_URL": (url, DEFAULTS["SITE_URL"]),
    }
    exports, prefix = {}, {}
    for key, (server_default, bare_default) in defaults.items():
        from_file = file_values.get(key) or None
        server_value = environ.get(key) or from_file or server_default
        if not environ.get(key) and (key == "APP_ENV" or from_file is None):
            exports[key] = server_value
        if server_value != (from_file or bare_default):
            prefix[key] = server_value
    return ServerSettings(exports, prefix)


def welcome(url: str, flask_command: str, prefix: dict[str, str]) -> str:
    """The block shown before serving: where to go, and what to run in another shell."""
    flask = " ".join([*(f"{k}={shlex.quote(v)}" for k, v in prefix.items()), flask_command])
    return "\n".join(
        [
            "",
            f"newsletters is running at {url}/",
            f"  Reader pages:   {url}/",
            f"  Mailbox:        {url}/dev/mailbox   (every email lands here)",
            f"  Admin console:  {url}/admin/  — make an admin in another shell:",
            f"                    {flask} admin create you@example.com",
            f"  Send an issue:  {flask} digest send --force",
            "",
        ]
    )


def shell_assignments(settings: ServerSettings, banner: str) -> str:
    """The lines ``make run`` evaluates: exported settings, then the ``welcome`` text."""
    lines = [f"export {key}={shlex.quote(value)}" for key, value in settings.exports.items()]
    lines.append(f"welcome={shlex.quote(banner)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Prepare ``.env`` in the working directory and print the shell assignments."""
    parser = argparse.ArgumentParser(prog="python -m newsletters.devsetup", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="The address the server listens on.")
    parser.add_argument("--port", type=int, default=5000, help="The port it listens on.")
    parser.add_argument(
        "--flask", default=".venv/bin/flask", help="The flask command to show in the welcome."
    )
    args = parser.parse_args(argv)
    url = site_url(args.host, args.port)
    env_file = Path.cwd() / ".env"
    print(f"make run: {prepare_env_file(env_file, url)}", file=sys.stderr)
    settings = server_settings(env_file, url, dict(os.environ))
    sys.stdout.write(shell_assignments(settings, welcome(url, args.flask, settings.command_prefix)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
