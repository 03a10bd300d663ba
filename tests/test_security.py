"""Security headers, error pages, health check and language choice."""

from tests.builders import make_person, make_tree, nodes_at
from tests.conftest import take_redis_away


def test_security_headers_on_pages_and_errors(app, client):
    for url, status in (("/auth/login", 200), ("/no-such-page", 404), ("/tree/1", 302)):
        response = client.get(url)
        assert response.status_code == status
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Frame-Options"] == "DENY"


def test_private_pages_are_not_cached(app, client, auth):
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    auth.login(person.mobile)
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_no_external_assets(app, client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert "http://" not in html and "https://" not in html.replace('href="https://', "")


def test_friendly_404_and_405(app, client):
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert "<h1>" in page.get_data(as_text=True)
    assert client.get("/auth/logout").status_code == 405


def test_nul_in_input_is_a_400_not_a_500(app, client):
    assert client.get("/auth/login?next=%00").status_code == 400


def test_healthz_reports_database(app, client):
    from governance.worker import periodic_once

    periodic_once(app)  # without a recent periodic round the answer is "degraded" (tests/test_health.py)
    body = client.get("/healthz").get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "not configured"
    assert body["status"] == "ok"


def test_healthz_reports_redis_and_the_queue(redis_app, client):
    checks = client.get("/healthz").get_json()["checks"]
    assert checks["redis"] == "ok"
    assert checks["queue"] == {"name": redis_app.config["REDIS_PREFIX"] + "jobs", "waiting": 0, "failed": 0}


def test_healthz_degraded_when_redis_is_down(app, client):
    take_redis_away(app)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("error")


def test_language_choice_is_remembered(app, client, auth):
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    auth.login(person.mobile)
    response = client.get("/lang/en?next=/tree/")
    assert response.headers["Location"] == "/tree/"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
    # a language that does not exist changes nothing; an outside `next` is ignored
    assert client.get("/lang/xx?next=https://evil.example/").headers["Location"] == "/"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_ids_past_the_database_range_are_404_not_500(app, client, auth):
    make_tree()
    person = make_person("district_admin", nodes_at("district")[0])
    auth.login(person.mobile)
    for url in ("/tree/99999999999", "/admin/people/99999999999", "/issues/99999999999", "/file/photos/99999999999"):
        assert client.get(url).status_code == 404, url
