"""The house's floors: imports point down, never up or sideways between domains.

readers/, issues/ and console/ on top; mail/ and the catalogue below them (and
newsletter_settings, adding and changing a newsletter, on the catalogue, used by no
domain: only the console and the commands change newsletters);
rhythm/ (the periods of each frequency, and a reader's change of rhythm) and
branding (a newsletter's logo, accent and footer rules) under the catalogue;
integrations/ (outgoing webhooks, told of changes by the domains) under them;
core/ at the bottom; models under everything. A blueprint, command or task may
use any service, but no service reaches back up into them.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "newsletters"
LOW = {"catalogue", "rhythm", "branding", "core"}  # under the domains, in this order
ALLOWED = {
    "core": set(),
    "mail": {"core"},
    "branding": {"core"},
    "rhythm": {"core"},
    "catalogue": {"rhythm", "branding", "core"},
    "newsletter_settings": {"catalogue", "rhythm", "branding", "core"},
    "integrations": {"mail"} | LOW,
    "readers": {"mail", "integrations"} | LOW,
    "issues": {"mail", "integrations"} | LOW,
    "console": {"mail"} | LOW,
    "deliverability": {"readers", "issues", "console", "mail", "integrations"} | LOW,
    "demo": {"readers", "issues", "mail"} | LOW,
}
ABOVE_SERVICES = ("newsletters.public", "newsletters.admin", "newsletters.api", "newsletters.cli",
                  "newsletters.webhooks",
                  "newsletters.dev", "newsletters.tasks")  # fmt: skip


def _imports(path: Path) -> set[str]:
    """Every module a file imports from, with ``from x import y`` also counted as ``x.y``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _floor(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["newsletters", "services"] else None


def test_services_import_only_their_own_floor_and_the_floors_below():
    wrong = []
    for path in (PACKAGE / "services").rglob("*.py"):
        here = _floor("newsletters." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for module in _imports(path):
            there = _floor(module)
            if there and there != here and there not in ALLOWED[here]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
            if module.startswith(ABOVE_SERVICES):
                wrong.append(f"{path.relative_to(PACKAGE)} reaches up into {module}")
    assert not wrong, "\n".join(sorted(wrong))


def test_models_know_nothing_of_the_services():
    for path in (PACKAGE / "models").rglob("*.py"):
        assert not any(m.startswith("newsletters.services") for m in _imports(path)), path


def test_every_floor_is_known():
    floors = {p.stem if p.is_file() else p.name for p in (PACKAGE / "services").iterdir()}
    assert floors - {"__init__", "__pycache__"} == set(ALLOWED)
