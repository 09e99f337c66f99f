"""The development mailbox, where mail lands when no SMTP server is set."""

import threading

from newsletters.services.mail import devmailbox


def test_the_first_deliveries_may_race_to_make_the_mailbox(app, tmp_path):
    """Two requests that each send the first mail at once must both land (no FileExistsError)."""
    failures = []

    def deliver():
        with app.app_context():
            try:
                devmailbox.deliver(b"Subject: hello\r\n\r\nhi\r\n")
            except Exception as error:  # the test reports every kind of failure
                failures.append(repr(error))

    for attempt in range(25):
        app.config["DEV_MAILBOX_PATH"] = str(tmp_path / f"mailbox-{attempt}")
        threads = [threading.Thread(target=deliver) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with app.app_context():
            assert len(devmailbox.list_messages()) == 8 - len(failures)
    assert failures == []
