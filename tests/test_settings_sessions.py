"""Security settings: the user's sessions, ended one by one or all others at once."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import UserSession
from tests.api_helpers import bearer, make_token
from tests.web import WebClient


def second_browser(app):
    other = WebClient(app.test_client())
    other.login("client@example.com", "client password 1")
    return other


def test_sessions_listed_with_ip_and_browser(client_web):
    body = client_web.get("/settings/security", headers={"User-Agent": "TestBrowser/1.0"}
                          ).get_data(as_text=True)
    assert "Active sessions" in body and "this browser" in body and "127.0.0.1" in body
    assert "<h1>Security</h1>" in body and "<title>Security" in body


def test_end_one_other_session_with_htmx(app, client_web):
    other = second_browser(app)
    other_row = db.session.execute(
        select(UserSession).order_by(UserSession.id.desc())).scalars().first()
    response = client_web.htmx("POST", f"/settings/security/sessions/{other_row.id}/end",
                               page_url="/settings/security")
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert other.get("/home").status_code == 302
    assert client_web.get("/home").status_code == 200


def test_cannot_end_someone_elses_session(app, client_web, factories):
    factories.client_user(email="victim@example.com", password="client password 1")
    victim = WebClient(app.test_client())
    victim.login("victim@example.com", "client password 1")
    victim_row = db.session.execute(
        select(UserSession).order_by(UserSession.id.desc())).scalars().first()
    response = client_web.post_form(f"/settings/security/sessions/{victim_row.id}/end", {},
                                    page_url="/settings/security")
    assert response.status_code == 404
    assert victim.get("/home").status_code == 200


def test_sign_out_everywhere_else(app, client_web):
    """Other browsers and API tokens alike: a token minted with a stolen session dies with it."""
    others = [second_browser(app) for _ in range(2)]
    secret = make_token(others[0])
    api = app.test_client()
    assert api.get("/api/v1/whoami", headers=bearer(secret)).status_code == 200
    response = client_web.post_form("/settings/security/sessions/end-others", {},
                                    page_url="/settings/security")
    assert response.status_code == 302
    assert all(o.get("/home").status_code == 302 for o in others)
    assert api.get("/api/v1/whoami", headers=bearer(secret)).status_code == 401
    page = client_web.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 other sessions ended, 1 API token revoked" in page


def test_sign_out_everywhere_else_ends_remember_me_sessions_too(app, client_web):
    """A browser that ticked "remember me" is out as well: neither its cookies nor its remember
    cookie alone (copied into a fresh browser) let anyone back in."""
    other = WebClient(app.test_client())
    other.login("client@example.com", "client password 1", remember=True)
    remember = other.get_cookie("portal_remember").value
    client_web.post_form("/settings/security/sessions/end-others", {}, page_url="/settings/security")
    assert other.get("/home").status_code == 302
    remember_only = app.test_client()
    remember_only.set_cookie("portal_remember", remember)
    assert remember_only.get("/home").status_code == 302
    assert client_web.get("/home").status_code == 200


def test_sign_out_everywhere_else_ends_sessions_older_than_this_one(app, web, client_user):
    """The usual case: the thief signed in first, the owner signs in afterwards to shut them out."""
    earlier = second_browser(app)
    web.login("client@example.com", "client password 1")
    web.post_form("/settings/security/sessions/end-others", {}, page_url="/settings/security")
    assert earlier.get("/home").status_code == 302
    assert web.get("/home").status_code == 200
