"""The transaction style: a unit of work commits once, at its end, or not at all."""

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import Newsletter
from newsletters.services.core.transactions import CommitInsideUnitOfWork, atomic


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Newsletter))


def test_a_commit_halfway_through_a_unit_of_work_is_refused_and_nothing_is_saved(app):
    @atomic
    def half_saved():
        db.session.add(Newsletter(slug="first", name="First"))
        db.session.commit()  # the mistake the rule exists for
        db.session.add(Newsletter(slug="second", name="Second"))

    with app.app_context():
        with pytest.raises(CommitInsideUnitOfWork):
            half_saved()
        assert _count() == 0


def test_a_unit_of_work_inside_another_joins_it_and_commits_once(app):
    @atomic
    def inner():
        db.session.add(Newsletter(slug="inner", name="Inner"))

    @atomic
    def outer():
        inner()
        db.session.add(Newsletter(slug="outer", name="Outer"))
        raise ValueError("the outer work fails after the inner one ran")

    with app.app_context():
        with pytest.raises(ValueError):
            outer()
        assert _count() == 0
        inner()
        assert _count() == 1


def test_long_jobs_outside_a_unit_of_work_may_commit_as_they_go(app):
    with app.app_context():
        db.session.add(Newsletter(slug="batch", name="Batch"))
        db.session.commit()
        assert _count() == 1
