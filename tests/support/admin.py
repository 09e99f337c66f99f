"""Signing in to the admin console through its real login form."""

from tests.support.reader import csrf_token_in

PASSWORD = "correct horse battery staple"


def create_admin(app, email: str, role: str = "owner") -> str:
    """An administrator with the test password; returns the address."""
    from newsletters.services.console import admins

    with app.app_context():
        admins.create_admin(email, PASSWORD, role)
    return email


def sign_in(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    """Fill in and submit the login form."""
    page = client.get("/admin/login")
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    return client.post(
        url,
        data={
            "csrf_token": csrf_token_in(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )


def enter_code(client, code: str):
    """Fill in and submit the second step of signing in, after the password."""
    page = client.get("/admin/login/code")
    return client.post(
        "/admin/login/code",
        data={"csrf_token": csrf_token_in(page.get_data(as_text=True)), "code": code},
    )


def action_token(client, url: str = "/admin/") -> str:
    """A CSRF token from a signed-in page, for posting the console's buttons."""
    return csrf_token_in(client.get(url).get_data(as_text=True))
