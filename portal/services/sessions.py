"""Server-side sessions: a row per sign-in, its token in the signed cookie and the remember cookie."""

from collections import Counter
from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import joinedload

from portal.extensions import db, login_manager
from portal.models import PendingEmailChange, RecoveryLink, ResetCode, TempKey, User, UserSession
from portal.models.base import utcnow
from portal.services.api_tokens import revoke_all_tokens
from portal.services.client_ip import client_ip
from portal.services.events import log_audit, log_auth
from portal.services.personal_data import UserIds
from portal.services.tokens import digest, new_token
from portal.wording import counted


def init_app(app) -> None:
    login_manager.user_loader(load_user)
    login_manager.session_protection = None  # the session row is the protection
    login_manager.login_view = "auth.login"
    login_manager.login_message = None


def start_session(user: User, remember: bool = False) -> UserSession:
    """Sign `user` in: a new row, a new cookie (the id rotates), remember cookie bound to the row."""
    end_current_session()
    token = new_token()
    row = UserSession(
        token_hash=digest(token),
        user_id=user.id,
        remember=bool(remember) and not user.is_staff,
        ip=client_ip(),
        user_agent=(request.user_agent.string or "")[:300],
    )
    db.session.add(row)
    db.session.flush()
    session.clear()
    user.session_token = token
    login_user(user, remember=row.remember, fresh=True)
    g.user_session = row
    return row


def current_session() -> UserSession | None:
    """The session row of this request, if signed in."""
    return g.get("user_session")


# Every signed-in request runs this: the row, its user and the user's client in one query.
SESSION_BY_TOKEN = (
    select(UserSession).options(joinedload(UserSession.user).joinedload(User.client))
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def load_user(token: str) -> User | None:
    """Flask-Login's loader: the cookie's token must name a live row of an account that may sign in."""
    row = db.session.execute(SESSION_BY_TOKEN, {"token_hash": digest(token)}).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    user = row.user
    now = utcnow()
    if not user.can_sign_in or _expired(row, user, now):
        row.revoked_at = row.revoked_at or now
        db.session.commit()
        return None
    if (now - row.last_seen_at).total_seconds() > current_app.config["SESSION_TOUCH_SECONDS"]:
        row.last_seen_at = now
        db.session.commit()
    user.session_token = token
    g.user_session = row
    return user


def _expired(row: UserSession, user: User, now) -> bool:
    cfg = current_app.config
    if row.remember:
        idle = max_age = timedelta(days=cfg["REMEMBER_DAYS"])
    elif user.is_staff:
        idle = timedelta(minutes=cfg["STAFF_SESSION_IDLE_MINUTES"])
        max_age = timedelta(hours=cfg["STAFF_SESSION_MAX_HOURS"])
    else:
        idle = timedelta(minutes=cfg["SESSION_IDLE_MINUTES"])
        max_age = timedelta(hours=cfg["SESSION_MAX_HOURS"])
    return now - row.last_seen_at > idle or now - row.created_at > max_age


def log_out() -> None:
    """The person signs out of this browser: logged, then the session ends. The caller commits."""
    log_auth("logout", user=current_user._get_current_object())
    end_current_session()


def end_current_session() -> None:
    """Log out this browser: revoke its row and clear both cookies. Every new sign-in does this
    first, so neither a copy of the old cookie nor its remember cookie stays usable."""
    row = current_session() if current_user.is_authenticated else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    logout_user()
    session.clear()


def sign_out_everywhere_else(user: User, keep: UserSession | None) -> tuple[int, int]:
    """End every session (and so every remember cookie and every sign-in waiting for its second
    factor) of `user` but `keep`, and revoke their API tokens and links in flight (temporary keys
    too): a token or an email change started with a stolen session must not outlive it. Returns
    how many sessions and tokens."""
    which = UserSession.user_id == user.id
    ended = _revoke_sessions(which if keep is None else which & (UserSession.id != keep.id))
    _end_waiting_sign_ins([user.id])
    tokens = revoke_all_tokens([user.id])
    drop_links_in_flight([user.id])
    log_auth("sessions_ended", user=user, detail=f"{counted(ended, 'other session')}, {counted(tokens, 'API token')}")
    return ended, tokens


def _revoke_sessions(which) -> int:
    return db.session.execute(update(UserSession).where(which, UserSession.revoked_at.is_(None))
                              .values(revoked_at=utcnow())).rowcount


def _end_waiting_sign_ins(user_ids: UserIds) -> None:
    """A sign-in that has passed the password and waits for its second factor lives in its
    browser's signed cookie, out of reach of the session rows: it holds the user's session epoch,
    and a new epoch ends it (portal.services.pending_signin)."""
    db.session.execute(update(User).where(User.id.in_(user_ids)).values(session_epoch=User.session_epoch + 1))


def end_session_of(user: User, session_id: int) -> bool:
    """End one of the user's own sessions (logged); False if it is not theirs or already over.
    The caller commits."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    log_auth("session_ended", user=user)
    return True


def revoke_everything(user_ids: UserIds) -> int:
    """Shut every door of these users at once: sessions, remember cookies, sign-ins waiting for
    their second factor, API tokens and links in flight (temporary keys among them). Returns how
    many sessions and tokens were revoked."""
    drop_links_in_flight(user_ids)
    return end_sessions(user_ids) + revoke_all_tokens(user_ids)


def end_sessions(user_ids: UserIds) -> int:
    """End every browser session of these users: sessions, remember cookies and sign-ins waiting
    for their second factor. Returns how many sessions."""
    _end_waiting_sign_ins(user_ids)
    return _revoke_sessions(UserSession.user_id.in_(user_ids))


def drop_links_in_flight(user_ids: UserIds) -> None:
    """Delete recovery links, SMS reset codes, new-email links and unused temporary keys: whoever
    asked for them may be the one being shut out (a stolen password can send an email change to the
    thief's own mailbox, a key may have been handed to the wrong person), and once the account's
    email changes, a link mailed to the old address must not set its password. Each account that
    loses keys gets an audit row saying how many (never a key)."""
    for model in (RecoveryLink, ResetCode, PendingEmailChange):
        db.session.execute(delete(model).where(model.user_id.in_(user_ids)))
    dropped_keys = Counter(db.session.execute(
        delete(TempKey).where(TempKey.user_id.in_(user_ids), TempKey.used_at.is_(None)).returning(TempKey.user_id)
    ).scalars())
    for user_id, count in sorted(dropped_keys.items()):
        log_audit("temp_key_revoked", target=db.session.get(User, user_id), changes={"unused_temp_keys": [count, 0]})


def active_sessions(user: User) -> list[UserSession]:
    """The user's live sessions, newest use first."""
    return list(
        db.session.execute(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        ).scalars()
    )
