"""flask bounces stats: the rates as tables, and a failing exit at the 0.3% complaint line."""

from datetime import timedelta

from newsletters.models import BounceKind, utcnow
from tests.support.rates import add_issue, add_reports, add_sent
from tests.support.readers import add_newsletter


def _sent_with_complaints(app, domain, sent, complaints, days_ago=2, hard=0):
    """One issue of 'The Weekly' sent ``days_ago`` to ``sent`` readers at ``domain``."""
    newsletter = add_newsletter(app, slug=f"n-{domain.split('.')[0]}", name=f"News {domain}")
    when = utcnow() - timedelta(days=days_ago)
    issue = add_issue(app, newsletter, when, f"Issue for {domain}")
    ids = add_sent(app, issue, domain, sent, when)
    received = when + timedelta(hours=1)
    add_reports(app, ids[:complaints], BounceKind.COMPLAINT, received)
    add_reports(app, ids[complaints : complaints + hard], BounceKind.HARD, received)


def test_above_the_danger_line_it_exits_1_and_says_which_line_and_where(app, runner):
    _sent_with_complaints(app, "gmail.com", 2000, 7, hard=20)  # 0.35%
    _sent_with_complaints(app, "yahoo.com", 2000, 1)  # 0.05%
    result = runner.invoke(args=["bounces", "stats"])
    assert result.exit_code == 1, result.output
    out = result.output
    for title in ("\nIssues\n", "\nNewsletters\n", "\nDomains\n"):
        assert title in out
    assert "complaint rate" in out and "bounce rate" in out
    gmail = next(line for line in out.splitlines() if line.strip().startswith("gmail.com"))
    assert gmail.split()[:6] == ["gmail.com", "2,000", "20", "1.00%", "0", "7"]
    assert "0.35%" in gmail and "at or above 0.3%" in gmail
    assert (
        "DANGER: at or above the 0.3% complaint line, where Gmail and Yahoo refuse or junk bulk "
        "mail: domain gmail.com: 0.35% complaints (7 in 2,000 messages)."
    ) in out
    assert "DANGER: at or above the 0.3% complaint line" in out and "newsletter News gmail" in out
    yahoo = next(line for line in out.splitlines() if line.strip().startswith("yahoo.com"))
    assert yahoo.rstrip().endswith("below 0.1%")


def test_between_the_lines_it_warns_and_exits_0(app, runner):
    _sent_with_complaints(app, "gmail.com", 2000, 4)  # 0.2%
    result = runner.invoke(args=["bounces", "stats"])
    assert result.exit_code == 0, result.output
    assert "DANGER" not in result.output
    assert "Warning: at or above the 0.1% complaint line: domain gmail.com: 0.20% complaints" in (
        result.output
    )


def test_below_the_lines_it_says_so_and_exits_0(app, runner):
    _sent_with_complaints(app, "gmail.com", 2000, 1)
    result = runner.invoke(args=["bounces", "stats"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("Every judged complaint rate is below 0.1%.")


def test_too_few_messages_are_shown_but_not_judged_unless_asked(app, runner):
    _sent_with_complaints(app, "gmail.com", 400, 4)  # 1%, from 400 messages
    result = runner.invoke(args=["bounces", "stats"])
    assert result.exit_code == 0, result.output
    assert "at or above 0.3%, too few messages to judge" in result.output
    assert "judged from 1,000 messages sent" in result.output
    stricter = runner.invoke(args=["bounces", "stats", "--min-sent", "400"])
    assert stricter.exit_code == 1, stricter.output
    assert "DANGER" in stricter.output


def test_the_window_is_the_last_days_asked_for(app, runner):
    _sent_with_complaints(app, "gmail.com", 2000, 8, days_ago=10)
    assert runner.invoke(args=["bounces", "stats"]).exit_code == 1
    week = runner.invoke(args=["bounces", "stats", "--days", "7"])
    assert week.exit_code == 0, week.output
    assert "(7 days)" in week.output and "No issue was sent in these days." in week.output
    longer = runner.invoke(args=["bounces", "stats", "--days", "60"])
    assert "reports are kept 30 days" in longer.output


def test_a_window_of_no_days_is_a_usage_error(app, runner):
    result = runner.invoke(args=["bounces", "stats", "--days", "0"])
    assert result.exit_code == 2 and "--days" in result.output
