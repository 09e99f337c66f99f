"""GET /api/v1/issues: what went out, newest first, with what became of each delivery."""

import pytest

from tests.support.api_records import DAILY, WEEKLY, make_token, seed


@pytest.fixture
def seeded(app):
    return seed(app)


@pytest.fixture
def token(app, runner, seeded):
    return make_token(runner, "dashboard", "stories:write")  # any scope will do


NOT_COUNTED = dict.fromkeys(("opens", "machine_opens", "clicks", "machine_clicks"))


def _get(client, token, query=""):
    return client.get(f"/api/v1/issues{query}", headers={"Authorization": f"Bearer {token}"})


def test_issues_that_went_out_are_listed_newest_first_with_counts(client, token, seeded):
    answer = _get(client, token)
    assert answer.status_code == 200
    issues = answer.get_json()["issues"]
    assert [i["id"] for i in issues] == seeded.issue_ids  # the draft is not there
    assert [i["status"] for i in issues] == ["sending", "sent", "sent"]
    newest_sent = issues[1]
    assert newest_sent["newsletter"] == WEEKLY and newest_sent["frequency"] == "weekly"
    assert newest_sent["subject"] == "The Weekly, 1 weeks ago"
    assert newest_sent["period_start"] < newest_sent["period_end"] <= newest_sent["sent_at"]
    assert newest_sent["completed_at"]
    assert newest_sent["counts"] == {
        "recipients": 3,
        "sent": 2,  # the bounced one left too; the failed one did not
        "failed": 1,
        "bounced": 1,
        "complained": 1,  # reported twice, counted once
        # It went out without counting opens or clicks: null, not zero.
        "opens": None,
        "machine_opens": None,
        "clicks": None,
        "machine_clicks": None,
    }
    assert issues[0]["counts"] == {**dict.fromkeys(newest_sent["counts"], 0), **NOT_COUNTED}
    assert answer.get_json()["next_cursor"] is None


def test_an_issue_that_counted_shows_its_opens_and_clicks_with_machines_apart(
    client, token, seeded
):
    counted = _get(client, token).get_json()["issues"][2]
    assert {k: counted["counts"][k] for k in NOT_COUNTED} == {
        "opens": 5,
        "machine_opens": 7,
        "clicks": 5,  # both links' clicks
        "machine_clicks": 1,
    }


def test_pages_follow_the_cursor_to_the_end(client, token, seeded):
    seen, cursor = [], ""
    for _ in range(5):
        page = _get(client, token, f"?limit=1{cursor}").get_json()
        seen += [i["id"] for i in page["issues"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == seeded.issue_ids


def test_one_newsletters_issues(client, token, seeded):
    daily = _get(client, token, f"?newsletter={DAILY}").get_json()["issues"]
    assert [i["id"] for i in daily] == seeded.issue_ids[:1]
    unknown = _get(client, token, "?newsletter=no-such-thing")
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=", "limit"),
        ("?cursor=yesterday", "cursor"),
        ("?cursor=999999999999999999.1", "cursor"),
        ("?cursor=1.2.3", "cursor"),
        ("?cursor=1.99999999999", "cursor"),
    ],
)
def test_bad_paging_is_400_naming_the_parameter(client, token, query, field):
    answer = _get(client, token, query)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == field


def test_a_page_of_a_hundred_is_allowed(client, token, seeded):
    assert len(_get(client, token, "?limit=100").get_json()["issues"]) == 3
