"""The ``flask`` command groups, one module per domain. Each command wraps one service call.

A group's module is imported only when that group runs (or ``flask --help`` lists it),
so cron's ``flask outbox drain`` loads the outbox and not the console or Alembic.
"""

from collections.abc import Callable
from importlib import import_module

import click
from flask import Flask
from flask.cli import AppGroup

# Command name -> "module:attribute", and the modules that add commands to that group.
COMMANDS: dict[str, tuple[str, ...]] = {
    "newsletter": ("newsletters.cli.catalogue:newsletter_cli",),
    "outbox": ("newsletters.cli.outbox:outbox_cli",),
    "digest": ("newsletters.cli.issues:digest_cli", "newsletters.cli.issue_control"),
    "feeds": ("newsletters.cli.issues:feeds_cli",),
    "admin": ("newsletters.cli.operations:admin_cli",),
    "subscribers": ("newsletters.cli.readers:subscribers_cli",),
    "bounces": ("newsletters.cli.bounces:bounces_cli",),
    "webhooks": ("newsletters.cli.webhooks:webhooks_cli",),
    "deliveries": ("newsletters.cli.deliveries:deliveries_cli",),
    "check": ("newsletters.cli.operations:check",),
}


class CommandsOnDemand(AppGroup):
    """``app.cli``, whose groups are imported the first time they are asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.loaders: dict[str, Callable[[], click.Command]] = {}

    def add_lazy(self, name: str, loader: Callable[[], click.Command]) -> None:
        self.loaders[name] = loader

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.loaders})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        loader = self.loaders.pop(name, None)
        if loader is not None and name not in self.commands:
            self.add_command(loader(), name)
        return super().get_command(ctx, name)


def load_command(targets: tuple[str, ...]) -> click.Command:
    """The command named by the first target, after importing every module named."""
    command = None
    for target in targets:
        module_name, _, attribute = target.partition(":")
        module = import_module(module_name)
        if attribute and command is None:
            command = getattr(module, attribute)
    assert isinstance(command, click.Command)
    return command


def register_cli(app: Flask, extra: dict[str, Callable[[], click.Command]]) -> None:
    """Replace ``app.cli`` with a group that imports each command group on demand.

    ``extra`` adds loaders of the factory's own, such as ``flask db`` (Alembic).
    """
    commands = CommandsOnDemand(app.name)
    for name, command in app.cli.commands.items():
        commands.add_command(command, name)
    for name, targets in COMMANDS.items():
        commands.add_lazy(name, lambda targets=targets: load_command(targets))
    for name, loader in extra.items():
        commands.add_lazy(name, loader)
    app.cli = commands
