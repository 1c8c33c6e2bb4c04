"""Signing up and logging in through the real pages with Django's test client."""

from django.test import Client

PASSWORD = "correct-horse-battery-9"


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def sign_up(client: Client, username: str, address: str, **fields):
    return client.post("/accounts/signup/", {
        "username": username, "email": address, "password1": PASSWORD, "password2": PASSWORD,
        **fields})


def log_in(client: Client, login: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": login, "password": password})


def confirm(client: Client, mailbox, address: str, count: int = 1):
    """Follow the link of the ``count``-th mail to ``address`` and confirm on its page."""
    link = mailbox.link(mailbox.wait_for(address, count))
    assert client.get(link).status_code == 200
    return client.post(link)


def verified_user(mailbox, username: str, address: str) -> None:
    """An account signed up and verified through the pages."""
    client = Client()
    assert sign_up(client, username, address).status_code == 302
    assert confirm(client, mailbox, address).status_code == 302
