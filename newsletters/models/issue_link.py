"""The story links of an issue that counted clicks, and their totals.

A row names an issue and a link's position in it: never a reader. A click on
``/r/<token>`` adds one to its row, and the redirect goes to the URL stored here,
never to one carried by the token.
"""

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db


class IssueLink(db.Model):
    """One story link of one issue (every language shares it), with its click totals."""

    __tablename__ = "issue_link"
    __table_args__ = (UniqueConstraint("digest_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column("digest_id", ForeignKey("digest.id", ondelete="CASCADE"))
    # 1 for the issue's first story, 2 for the second, ...: the same in every language.
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2048))
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    machine_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<IssueLink {self.issue_id}#{self.position}>"
