"""The CSV files other systems export, each read as one shape: an address, a state, tags, consent.

A publisher brings the file exactly as the other system wrote it; its header row
says which system that was (:func:`detect`). The column names come from each
system's own export code and documentation:

- **Mailchimp**, Audience → Export audience: a ZIP of three CSVs, subscribed,
  unsubscribed and cleaned members. Columns ``Email Address``, ``First Name``,
  ``Last Name``, merge fields, ``MEMBER_RATING``, ``OPTIN_TIME``, ``OPTIN_IP``,
  ``CONFIRM_TIME``, ``CONFIRM_IP``, ``LATITUDE`` ... ``LAST_CHANGED``, ``LEID``,
  ``EUID``, ``NOTES``, ``TAGS``; the unsubscribed file adds ``UNSUB_TIME``,
  ``UNSUB_CAMPAIGN_TITLE``, ``UNSUB_CAMPAIGN_ID``, ``UNSUB_REASON``,
  ``UNSUB_REASON_OTHER``, the cleaned one ``CLEAN_TIME``,
  ``CLEAN_CAMPAIGN_TITLE``, ``CLEAN_CAMPAIGN_ID``. ``TAGS`` holds quoted,
  comma-separated tags (``"Customers","VIP"``).
- **listmonk**, Subscribers → Export (``handleExportSubscribers`` in
  knadh/listmonk): ``uuid,email,name,attributes,status,created_at,updated_at``,
  ``status`` one of ``enabled``, ``disabled``, ``blocklisted``; listmonk's own
  import file is ``email,name,attributes``.
- **Ghost**, Members → Export (the members CSV of TryGhost/Ghost):
  ``id,email,name,note,subscribed_to_emails,complimentary_plan,
  stripe_customer_id,created_at,deleted_at,labels,tiers``; ``labels`` is
  comma-separated.
- **Substack**, Settings → Export (``email_list.<publication>.csv``):
  ``email,active_subscription,expiry,plan,email_disabled,created_at,
  first_payment_at`` (and more columns in newer exports).
"""

import csv
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from newsletters.errors import InvalidInput
from newsletters.services.core import csvsafe

NEWSLETTERS = "newsletters"
OWN_HEADER = "The first line must be the header: email,newsletters"
UNKNOWN_HEADER = (
    f"{OWN_HEADER} (or the header of a Mailchimp, listmonk, Ghost or Substack export, as it is)."
)


class State(enum.StrEnum):
    """What the other system says of a member."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    CLEANED = "cleaned"  # bounced: the address does not take mail
    COMPLAINED = "complained"
    SKIPPED = "skipped"  # nothing to bring over (deleted, disabled); ``reason`` says why


@dataclass
class Member:
    """One row of an export, in our words."""

    email: str
    state: State = State.SUBSCRIBED
    tags: list[str] = field(default_factory=list)
    # The export's own record of the opt-in: optin_time, optin_ip, confirm_time, confirm_ip.
    consent: dict[str, str] = field(default_factory=dict)
    # Our own format names its newsletters on the row.
    slugs: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class Format:
    """A system's export: how to recognise its header, and how to read a row of it."""

    name: str
    label: str
    required: tuple[str, ...]
    read: Callable[[dict[str, str]], Member]
    # The columns the preview shows as mapped: ours -> theirs.
    columns: tuple[tuple[str, str], ...] = ()


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "y", "t")


def _split(value: str) -> list[str]:
    """Tags as a cell holds them: ``"a","b"`` (Mailchimp) or ``a, b`` (Ghost)."""
    cells = next(csv.reader([value], skipinitialspace=True), []) if value.strip() else []
    return [c.strip().strip('"').strip() for c in cells if c.strip().strip('"').strip()]


def _consent(row: dict[str, str], *pairs: tuple[str, str]) -> dict[str, str]:
    return {ours: row[theirs].strip() for ours, theirs in pairs if row.get(theirs, "").strip()}


def _read_own(row: dict[str, str]) -> Member:
    # An export quotes the cells a spreadsheet would run as formulas: unquote them.
    email = csvsafe.restore_cell(row.get("0", "").strip())
    listed = csvsafe.restore_cell(row.get("1", ""))
    return Member(email, slugs=[s.strip() for s in listed.split(";") if s.strip()])


def _read_mailchimp(row: dict[str, str]) -> Member:
    member = Member(
        row.get("email address", "").strip(),
        tags=_split(row.get("tags", "")),
        consent=_consent(
            row,
            ("optin_time", "optin_time"),
            ("optin_ip", "optin_ip"),
            ("confirm_time", "confirm_time"),
            ("confirm_ip", "confirm_ip"),
        ),
    )
    # Which of the three files this is shows in its header (and so in every row).
    if "clean_time" in row:
        member.state = State.CLEANED
    elif "unsub_time" in row:
        reason = row.get("unsub_reason", "").lower()
        abuse = "abuse" in reason or "spam" in reason
        member.state = State.COMPLAINED if abuse else State.UNSUBSCRIBED
    return member


def _read_listmonk(row: dict[str, str]) -> Member:
    member = Member(
        row.get("email", "").strip(), consent=_consent(row, ("optin_time", "created_at"))
    )
    status = row.get("status", "enabled").strip().lower() or "enabled"
    if status == "blocklisted":
        member.state = State.UNSUBSCRIBED
    elif status != "enabled":
        member.state, member.reason = State.SKIPPED, f"{status} in listmonk"
    return member


def _read_ghost(row: dict[str, str]) -> Member:
    member = Member(
        row.get("email", "").strip(),
        tags=_split(row.get("labels", "")),
        consent=_consent(row, ("optin_time", "created_at")),
    )
    if row.get("deleted_at", "").strip():
        member.state, member.reason = State.SKIPPED, "deleted in Ghost"
    elif not _true(row.get("subscribed_to_emails", "")):
        member.state = State.UNSUBSCRIBED
    return member


def _read_substack(row: dict[str, str]) -> Member:
    plan = row.get("plan", "").strip()
    member = Member(
        row.get("email", "").strip(),
        tags=[plan] if plan else [],
        consent=_consent(row, ("optin_time", "created_at")),
    )
    if _true(row.get("email_disabled", "")):
        member.state = State.UNSUBSCRIBED
    return member


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(NEWSLETTERS, "our own (email,newsletters)", ("email", "newsletters"), _read_own,
               (("address", "email"), ("newsletters", "newsletters"))),
        Format("mailchimp", "Mailchimp audience export", ("email address",), _read_mailchimp,
               (("address", "Email Address"), ("tags", "TAGS"), ("opt-in", "OPTIN_TIME, OPTIN_IP"),
                ("confirmation", "CONFIRM_TIME, CONFIRM_IP"),
                ("left", "UNSUB_TIME (unsubscribed file), CLEAN_TIME (cleaned file)"))),
        Format("listmonk", "listmonk subscribers export", ("email", "attributes"), _read_listmonk,
               (("address", "email"), ("state", "status"), ("opt-in", "created_at"))),
        Format("ghost", "Ghost members export", ("email", "subscribed_to_emails"), _read_ghost,
               (("address", "email"), ("state", "subscribed_to_emails, deleted_at"),
                ("tags", "labels"), ("opt-in", "created_at"))),
        Format("substack", "Substack subscribers export", ("email", "email_disabled"),
               _read_substack,
               (("address", "email"), ("state", "email_disabled"), ("tags", "plan"),
                ("opt-in", "created_at"))),
    )
}  # fmt: skip
CHOICES = ("auto", *FORMATS)
FORMAT_CHOICES = (
    ("auto", "Find out from the header row"),
    *((f.name, f.label) for f in FORMATS.values()),
)


def _columns(header: list[str]) -> list[str]:
    return [h.strip().lstrip("\ufeff").lower() for h in header]


def detect(header: list[str], wanted: str = "auto") -> Format:
    """The format a header row belongs to; ``wanted`` forces one (and checks its columns)."""
    columns = _columns(header)
    if wanted not in CHOICES:
        raise InvalidInput(f"Unknown format {wanted!r}: choose one of {', '.join(CHOICES)}.")
    if wanted == NEWSLETTERS or (wanted == "auto" and columns[:2] == ["email", "newsletters"]):
        if columns[:2] != ["email", "newsletters"]:
            raise InvalidInput(OWN_HEADER)
        return FORMATS[NEWSLETTERS]
    candidates = [FORMATS[wanted]] if wanted != "auto" else list(FORMATS.values())[1:]
    for candidate in candidates:
        if all(column in columns for column in candidate.required):
            return candidate
    if wanted != "auto":
        missing = ", ".join(c for c in FORMATS[wanted].required if c not in columns)
        raise InvalidInput(f"This is not a {FORMATS[wanted].label}: it has no {missing} column.")
    raise InvalidInput(UNKNOWN_HEADER)


def reader(fmt: Format, header: list[str]) -> Callable[[list[str]], Member]:
    """A function reading one line of fields (after ``header``) as a :class:`Member`."""
    if fmt.name == NEWSLETTERS:
        return lambda fields: fmt.read({str(i): value for i, value in enumerate(fields[:2])})
    columns = _columns(header)

    def read(fields: list[str]) -> Member:
        # A short row reads as empty cells, so every column of the header is there.
        padded = [*fields, *[""] * (len(columns) - len(fields))]
        return fmt.read(dict(zip(columns, padded, strict=False)))

    return read
