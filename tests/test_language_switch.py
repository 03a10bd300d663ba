"""The language switch: a form in the page header (POST with its CSRF token) saves the choice on the account;
the public pages' link (GET) switches this browser only."""

import re

from governance.extensions import db
from governance.models import Person
from tests.builders import make_person, make_tree, nodes_at


def test_language_choice_is_saved_on_the_account_by_the_headers_form(app, client, auth):
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    auth.login(person.mobile)
    response = auth.post("/lang/en?next=/tree/")
    assert response.headers["Location"] == "/tree/"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Person, person.id).locale == "en"  # saved on the account
    # a language that does not exist changes nothing; an outside `next` is ignored
    assert auth.post("/lang/xx?next=https://evil.example/").headers["Location"] == "/"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_language_switch_changes_no_account_without_a_post_and_its_token(app, client, auth):
    """Another site can link or post to /lang/…: without the page's CSRF token no account changes."""
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    auth.login(person.mobile)
    assert client.get("/lang/en").status_code == 302  # the public pages' link: this browser only
    assert client.post("/lang/en").status_code == 400  # no CSRF token
    db.session.expire_all()
    assert db.session.get(Person, person.id).locale is None
    header = client.get("/").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/lang/zh\?next=/"', header)  # the switch is a form


def test_login_page_language_switch_is_a_form(app, client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/lang/en[^"]*" class="inline">', html)
    assert 'href="/lang/' not in html
