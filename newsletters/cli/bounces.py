"""flask bounces: hear what happened after the handoff (poll the mailbox, see the rates)."""

from flask.cli import AppGroup

bounces_cli = AppGroup("bounces", help="Bounce and complaint reports: poll, stats, prune.")
