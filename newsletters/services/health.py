"""Is the service able to work?"""

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from newsletters.extensions import db

log = logging.getLogger(__name__)


def database_ok() -> bool:
    """True when the database answers a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: the database did not answer", exc_info=True)
        db.session.rollback()
        return False
    finally:
        db.session.close()
    return True
