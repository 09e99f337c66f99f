"""Import files for tests: Mailchimp exports of any size, written to disk a row at a time."""

import csv
from pathlib import Path

MAILCHIMP_HEADER = [
    "Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP",
    "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE",
    "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip


def write_mailchimp_export(path: Path, rows: int, prefix: str = "reader") -> Path:
    """A subscribed-members file of ``rows`` distinct readers, tagged Weekly."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(MAILCHIMP_HEADER)
        for n in range(rows):
            ip = f"198.51.{n // 256 % 256}.{n % 256}"
            writer.writerow(
                [f"{prefix}{n}@example.com", "Reader", str(n), "3", "2024-05-12 18:00:00", ip,
                 "2024-05-12 18:02:11", ip, "", "", "", "", "", "", "", "2024-05-12 18:02:11",
                 str(n), f"{n:010x}", "", '"Weekly"']
            )  # fmt: skip
    return path
