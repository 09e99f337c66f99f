"""Celery tasks: ``celery -A newsletters.tasks worker`` (and ``beat`` for the minute drain).

Importing this module has no side effects. Celery looks up ``app`` (or
``celery``) on it when a worker starts, and only then is the Flask app built,
from the same settings as the web app.
"""

from celery import Celery, Task, shared_task
from celery.schedules import crontab
from flask import Flask

from newsletters.services.deliverability import mailbox, stored_reports
from newsletters.services.integrations import webhook_dispatch
from newsletters.services.issues import retention, workers
from newsletters.services.mail import outbox, outbox_sending
from newsletters.services.readers import import_runs

SEND_OUTBOX_MESSAGES = outbox.SEND_TASK
DRAIN_OUTBOX = "newsletters.drain_outbox"
SEND_DIGEST = workers.SEND_DIGEST_TASK
START_ISSUE = workers.START_ISSUE_TASK
POLL_BOUNCE_MAILBOX = "newsletters.poll_bounce_mailbox"
PRUNE_BOUNCE_REPORTS = "newsletters.prune_bounce_reports"
PRUNE_DELIVERIES = "newsletters.prune_deliveries"
DELIVER_WEBHOOKS = "newsletters.deliver_webhooks"


def beat_schedule(app: Flask) -> dict:
    """What beat starts every minute: the outbox drain, the webhook deliveries, and the
    bounce mailbox when it is set."""
    schedule = {"drain-the-outbox": {"task": DRAIN_OUTBOX, "schedule": 60.0}}
    # A pass still waiting for a worker when the next is due is dropped, not piled up.
    schedule["deliver-webhooks"] = {
        "task": DELIVER_WEBHOOKS,
        "schedule": 60.0,
        "options": {"expires": 55},
    }
    # Daily, at a quiet hour (UTC): bounce reports past BOUNCE_REPORT_RETENTION_DAYS.
    schedule["prune-bounce-reports"] = {
        "task": PRUNE_BOUNCE_REPORTS,
        "schedule": crontab(minute=17, hour=4),
    }
    # Daily, after it: delivery rows of issues finished over DELIVERY_RETENTION_DAYS ago.
    schedule["prune-deliveries"] = {
        "task": PRUNE_DELIVERIES,
        "schedule": crontab(minute=37, hour=4),
    }
    if app.config["BOUNCE_MAILBOX_URL"].strip():
        # A poll still waiting for a worker when the next is due is dropped, not piled up.
        schedule["poll-the-bounce-mailbox"] = {
            "task": POLL_BOUNCE_MAILBOX,
            "schedule": 60.0,
            "options": {"expires": 55},
        }
    return schedule


def init_celery(app: Flask) -> Celery:
    """A Celery app whose tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(
        {
            "broker_url": app.config["CELERY_BROKER_URL"] or "memory://",
            "broker_connection_retry_on_startup": True,
            "broker_transport_options": {"socket_connect_timeout": 3, "socket_timeout": 10},
            "task_default_queue": app.config["CELERY_QUEUE"],
            "task_ignore_result": True,
            # A task is acknowledged when it has finished, so a worker that dies mid-task
            # leaves it for another; the outbox's claims keep that from sending twice.
            "task_acks_late": True,
            "worker_prefetch_multiplier": 1,
            "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0.2},
            "beat_schedule": beat_schedule(app),
            "imports": ("newsletters.tasks",),
        }
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(name=SEND_OUTBOX_MESSAGES)
def send_outbox_messages(ids: list[int]) -> str:
    """Send messages that were just committed."""
    return outbox_sending.send_messages(ids).summary()


@shared_task(name=DRAIN_OUTBOX)
def drain_outbox() -> str:
    """Send whatever is due in the outbox (scheduled every minute by beat)."""
    return outbox_sending.drain().summary()


@shared_task(name=POLL_BOUNCE_MAILBOX)
def poll_bounce_mailbox() -> str:
    """Read the bounce mailbox once; fails loudly (in the worker's log) when it cannot."""
    if not mailbox.configured():
        return "BOUNCE_MAILBOX_URL is not set: there is no bounce mailbox to poll."
    return mailbox.poll().summary()


@shared_task(name=PRUNE_BOUNCE_REPORTS)
def prune_bounce_reports() -> str:
    """Delete bounce reports older than BOUNCE_REPORT_RETENTION_DAYS, in committed chunks."""
    return stored_reports.prune().summary()


@shared_task(name=PRUNE_DELIVERIES)
def prune_deliveries() -> str:
    """Fold old issues' deliveries into their counts and delete them, in committed chunks."""
    return retention.prune().summary()


@shared_task(name=DELIVER_WEBHOOKS)
def deliver_webhooks() -> str:
    """Post every due webhook delivery and prune old events (scheduled every minute by beat)."""
    return webhook_dispatch.dispatch().summary()


@shared_task(name=SEND_DIGEST)
def send_issue(issue_id: int) -> str:
    """Claim and send batches of one issue until none is left; many run at once safely."""
    report = workers.send_issue_batches(issue_id)
    return f"sent {report.sent}, failed {report.failed}, bounced {report.bounced}"


@shared_task(name=START_ISSUE)
def start_issue(issue_id: int) -> str:
    """Make an issue's deliveries and queue its batches ("Send now" and "Resume")."""
    workers.start_issue(issue_id)
    return f"started issue {issue_id}"


@shared_task(name=import_runs.RUN_TASK)
def run_import(job_id: int, phase: str) -> str:
    """Check or apply an admin's CSV import, in batches, recording progress."""
    import_runs.run(job_id, phase)
    return f"import {job_id}: {phase} finished"


_worker_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    """``celery -A newsletters.tasks``: build the Flask app when a worker asks for it."""
    global _worker_app
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if _worker_app is None:
        from newsletters import create_app

        _worker_app = create_app().extensions["celery"]
    return _worker_app
