"""The command line: each command wraps one service and reports plainly."""

from newsletters.services.catalogue import public_newsletters


def test_newsletter_add_creates_a_public_newsletter(app, runner):
    result = runner.invoke(
        args=[
            "newsletter",
            "add",
            "science-weekly",
            "--name",
            "Science Weekly",
            "--description",
            "Discoveries, explained.",
            "--send-day",
            "thu",
            "--send-hour",
            "9",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Added newsletter 'science-weekly'" in result.output
    with app.app_context():
        [created] = public_newsletters()
        assert (created.slug, created.name, created.send_weekday, created.send_hour) == (
            "science-weekly",
            "Science Weekly",
            3,
            9,
        )


def test_newsletter_add_refuses_bad_or_taken_slugs(app, runner):
    assert runner.invoke(args=["newsletter", "add", "ok", "--name", "OK"]).exit_code == 0
    taken = runner.invoke(args=["newsletter", "add", "ok", "--name", "Again"])
    assert taken.exit_code == 1 and "already exists" in taken.output
    bad = runner.invoke(args=["newsletter", "add", "Not A Slug", "--name", "Bad"])
    assert bad.exit_code == 1 and "lower-case letters" in bad.output


def test_private_newsletters_stay_off_the_public_pages(app, runner, client):
    runner.invoke(args=["newsletter", "add", "insiders", "--name", "Insiders", "--private"])
    assert "Insiders" not in client.get("/").get_data(as_text=True)


def test_demo_adds_newsletters_only_to_an_empty_database(app, runner):
    first = runner.invoke(args=["newsletter", "demo"])
    assert "Added 4 demo newsletters." in first.output
    second = runner.invoke(args=["newsletter", "demo"])
    assert "added none" in second.output
    with app.app_context():
        assert len(public_newsletters()) == 4


def test_check_reports_every_service_the_settings_name(settings, make_app, smtp_server, redis_url):
    settings.update(
        smtp_server.settings(),
        RATELIMIT_STORAGE_URI=redis_url,
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",  # nobody listens there
    )
    runner = make_app(settings).test_cli_runner()
    result = runner.invoke(args=["check"])
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert any(
        line.startswith("ok") and "database" in line and "up to date" in line for line in lines
    ), result.output
    assert any(line.startswith("ok") and f"{smtp_server.port} answers" in line for line in lines)
    assert any(line.startswith("ok") and "rate limits" in line for line in lines)
    assert any(line.startswith("FAILED") and "celery broker" in line for line in lines)

    smtp_server.stop()
    settings["CELERY_BROKER_URL"] = ""
    result = make_app(settings).test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    assert any(line.startswith("FAILED") and "mail" in line for line in result.output.splitlines())


def test_check_passes_on_a_set_up_development_machine(runner):
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output and "development mailbox" in result.output
