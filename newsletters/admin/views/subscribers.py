"""Readers: find them, read their history, change them, export them, erase them."""

import json

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for

from newsletters.admin.blueprint import audited, bp, owner_only
from newsletters.admin.forms import ActionForm
from newsletters.errors import InvalidInput
from newsletters.http import row_id_arg
from newsletters.models import SubscriptionStatus, utcnow
from newsletters.services.catalogue import all_newsletters
from newsletters.services.readers import audience, exports
from newsletters.services.readers.history import Origin


def _filters() -> audience.Filters:
    source = request.values
    return audience.Filters(
        query=source.get("q", "")[:320],
        newsletter=source.get("newsletter", ""),
        status=source.get("status", ""),
    )


@bp.get("/subscribers")
def subscribers_list():
    """Search by the start of an address; filter by newsletter and status; page by id."""
    filters = _filters()
    after, before = row_id_arg("after"), row_id_arg("before")  # a bad cursor is a 400
    try:
        page = audience.page_of(filters, after=after, before=before)
    except InvalidInput as error:
        flash(error.message)
        filters, page = audience.Filters(), audience.page_of(audience.Filters())
    return render_template(
        "admin/subscribers.html",
        filters=filters,
        page=page,
        standing=audience.newsletters_of(page.subscribers),
        newsletters=all_newsletters(),
        statuses=[s.value for s in SubscriptionStatus],
        action=ActionForm(),
    )


@bp.post("/subscribers/export.csv")
def export_subscribers():
    """Every reader matching the filters, streamed as CSV (the format imports read)."""
    filters = _filters().check()
    audited(
        "subscribers.export",
        "subscribers",
        filters.newsletter or "all",
        lambda: None,
        detail={"query": filters.query, "status": filters.status},
    )
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(exports.subscriber_csv(filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="subscribers-{stamp}.csv"'},
    )


@bp.get("/subscribers/<uuid>")
def subscriber(uuid: str):
    """One reader: their newsletters and their whole history, consent records included."""
    reader = audience.by_uuid(uuid)
    return render_template(
        "admin/subscriber.html",
        reader=reader,
        events=audience.history(reader),
        action=ActionForm(),
    )


def _origin() -> Origin:
    return Origin(source="admin", ip=request.remote_addr, user_agent=request.user_agent.string)


@bp.post("/subscribers/<uuid>/unsubscribe")
def unsubscribe_subscriber(uuid: str):
    """Take the reader off one newsletter (the form names it) or all of them."""
    slug = request.form.get("newsletter") or None
    left = audited(
        "subscriber.unsubscribe",
        "subscriber",
        uuid,
        lambda: audience.unsubscribe(uuid, slug, _origin()),
        detail=lambda removed: {"newsletters": removed},
    )
    flash(f"Unsubscribed from {', '.join(left)}." if left else "Nothing to unsubscribe from.")
    return redirect(url_for("admin.subscriber", uuid=uuid))


@bp.post("/subscribers/<uuid>/resend-confirmation")
def resend_confirmation(uuid: str):
    """Mail the confirmation link again."""
    try:
        audited(
            "subscriber.resend_confirmation",
            "subscriber",
            uuid,
            lambda: audience.resend_confirmation(uuid),
        )
    except InvalidInput as error:
        flash(error.message)
    else:
        flash("The confirmation email is on its way.")
    return redirect(url_for("admin.subscriber", uuid=uuid))


@bp.post("/subscribers/<uuid>/export.json")
def export_subscriber(uuid: str):
    """Everything we hold about the reader, as a JSON file (a subject access request)."""
    data = audited("subscriber.export", "subscriber", uuid, lambda: audience.export_one(uuid))
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="subscriber-{uuid}.json"'},
    )


@bp.post("/subscribers/<uuid>/erase")
@owner_only
def erase_subscriber(uuid: str):
    """Erase the reader (owners only): data gone, address kept suppressed by its hash."""
    audited("subscriber.erase", "subscriber", uuid, lambda: audience.erase(uuid))
    flash("The reader has been erased. Their address stays suppressed, by its hash only.")
    return redirect(url_for("admin.subscribers_list"))
