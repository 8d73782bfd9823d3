"""Security notices that are never lost: written with the change, delivered by whichever sender claims them."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import PendingNotice, User
from portal.models.base import utcnow
from portal.services import background, notices
from portal.services.notices import send_notice
from tests.servers.fixtures import portal_env

# A worker that commits a change and its notice, then is killed before its sender runs.
KILLED_AFTER_COMMIT = """
import os, signal
from portal import create_app
from portal.extensions import db
from portal.models import User
from portal.services.notices import send_notice

app = create_app()
with app.test_request_context("/settings/general/password", method="POST"):
    user = db.session.get(User, int(os.environ["NOTICE_USER_ID"]))
    user.name = "Changed Before The Kill"
    send_notice(user, "Your password was changed", "the password of your account was changed.\\n")
    db.session.commit()
    os.kill(os.getpid(), signal.SIGKILL)  # the answer, and the sender after it, never come
"""


def waiting() -> list[PendingNotice]:
    db.session.expire_all()
    rows = list(db.session.execute(select(PendingNotice).order_by(PendingNotice.id)).scalars())
    db.session.commit()
    return rows


def killed_worker_leaves_a_notice(base_config, user_id: int) -> None:
    config = {key: value for key, value in base_config.items() if value is not None}
    env = {**os.environ, **portal_env(config), "NOTICE_USER_ID": str(user_id)}
    done = subprocess.run([sys.executable, "-c", KILLED_AFTER_COMMIT], cwd=Path(__file__).parents[1],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr


def send_notices(sender_app):
    """`flask --app portal send-notices` with this app's settings (the test body is in another's context)."""
    with sender_app.app_context():
        return sender_app.test_cli_runner().invoke(args=["send-notices"])


def test_a_notice_left_by_a_killed_worker_is_sent_by_the_command(app, make_app, smtp, factories, base_config):
    user = factories.client_user(email="left@example.com", name="Lefty")
    killed_worker_leaves_a_notice(base_config, user.id)
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Changed Before The Kill"  # the change stands
    (row,) = waiting()
    assert (row.recipient, row.subject, row.attempts) == ("left@example.com", "Your password was changed", 0)
    assert smtp.messages == []

    result = send_notices(make_app(**smtp.app_config()))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 notice sent, 0 still waiting."
    mail = smtp.wait_for(lambda m: "left@example.com" in m.to)
    assert mail.subject == "Your password was changed" and mail.body.startswith("Hello Changed Before The Kill,")
    assert waiting() == []
    again = send_notices(make_app(**smtp.app_config()))
    assert again.output.strip() == "0 notices sent, 0 still waiting." and len(smtp.messages) == 1


def test_the_first_request_of_a_new_worker_sends_what_a_killed_one_left(app, make_app, smtp, factories,
                                                                         base_config):
    user = factories.client_user(email="restart@example.com")
    killed_worker_leaves_a_notice(base_config, user.id)
    assert len(waiting()) == 1
    fresh = make_app(**smtp.app_config()).test_client()
    assert fresh.get("/login").status_code == 200  # the client waits for what the request queued
    assert smtp.wait_for(lambda m: "restart@example.com" in m.to).subject == "Your password was changed"
    assert waiting() == []


def test_two_senders_at_once_send_each_notice_once(app, make_app, smtp, factories):
    user = factories.client_user(email="many@example.com")
    db.session.add_all([PendingNotice(user_id=user.id, recipient=f"n{i}@example.com", subject=f"Notice {i}",
                                      body="Hello,\n\nsomething was changed.\n") for i in range(30)])
    db.session.commit()  # written as a dead worker leaves them: no sender queued
    sender_app = make_app(**smtp.app_config())
    start, sent = threading.Barrier(2), []

    def drain():
        with sender_app.app_context():
            start.wait()
            sent.append(notices.deliver_due().sent)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(sent) == 30
    received = sorted(message.to for message in smtp.messages)
    assert received == sorted(f"n{i}@example.com" for i in range(30))  # each once
    assert waiting() == []


def test_a_change_rolled_back_leaves_no_notice(app, make_app, smtp, factories):
    user = factories.client_user(email="undone@example.com", name="Undone")
    with make_app(**smtp.app_config()).test_request_context("/settings/general", method="POST"):
        target = db.session.get(User, user.id)
        target.name = "Half Done"
        send_notice(target, "Your name was changed", "your name was changed.\n")
        db.session.rollback()  # what fails after the notice was written takes it back too
        db.session.commit()
    assert background.settle()
    assert waiting() == [] and smtp.messages == []
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Undone"


def test_a_refused_notice_waits_longer_each_time_and_is_dropped_when_stale(app, make_app, smtp, factories,
                                                                           caplog):
    user = factories.client_user(email="patient@example.com")
    sender_app = make_app(**smtp.app_config())
    smtp.stop()
    with sender_app.app_context():
        send_notice(db.session.get(User, user.id), "Your account was locked", "it was locked.\n")
        before = utcnow()
        db.session.commit()
        assert background.settle()  # the sender tried once, after the commit
        (row,) = waiting()
        assert row.attempts == 1 and "ConnectionRefusedError" in row.last_error
        assert row.claimed_until is None
        assert before + timedelta(seconds=59) < row.next_attempt_at < utcnow() + timedelta(seconds=61)
        assert "notice 'Your account was locked' to user" in caplog.text and "attempt 1" in caplog.text

        db.session.execute(update(PendingNotice).values(next_attempt_at=utcnow()))
        db.session.commit()
        run = notices.deliver_due()
        (row,) = waiting()
        assert (run.sent, run.waiting, row.attempts) == (0, 1, 2)
        assert run.next_due == row.next_attempt_at > utcnow() + timedelta(seconds=110)  # doubled

        smtp.start()
        db.session.execute(update(PendingNotice).values(next_attempt_at=utcnow(),
                                                        created_at=utcnow() - timedelta(hours=73)))
        db.session.commit()
        run = notices.deliver_due()
    assert (run.sent, run.waiting, run.next_due) == (0, 0, None)
    assert waiting() == [] and smtp.messages == []  # a notice three days late is noise
    assert "notice 'Your account was locked' to user" in caplog.text and "dropped" in caplog.text


def test_retries_wait_at_most_an_hour(app, make_app, smtp, factories):
    user = factories.client_user(email="hourly@example.com")
    smtp.stop()
    with make_app(**smtp.app_config()).app_context():
        db.session.add(PendingNotice(user_id=user.id, recipient="hourly@example.com", subject="Notice",
                                     body="Hello,\n", attempts=40))
        db.session.commit()
        run = notices.deliver_due()
    (row,) = waiting()
    assert row.attempts == 41
    assert utcnow() + timedelta(minutes=59) < run.next_due <= utcnow() + timedelta(hours=1)



def test_a_claim_holds_until_its_lease_ends_then_another_sender_takes_the_notice(app, make_app, smtp, factories):
    """A sender killed mid-send leaves its claim: the notice is not sent twice meanwhile, and is
    sent by another sender once the lease is over."""
    user = factories.client_user(email="leased@example.com")
    lease_end = utcnow() + timedelta(minutes=5)
    db.session.add(PendingNotice(user_id=user.id, recipient="leased@example.com", subject="Notice",
                                 body="Hello,\n", claimed_until=lease_end))
    db.session.commit()
    with make_app(**smtp.app_config()).app_context():
        run = notices.deliver_due()
        assert (run.sent, run.waiting, run.next_due) == (0, 1, lease_end)
        db.session.execute(update(PendingNotice).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert notices.deliver_due().sent == 1
    assert [message.to for message in smtp.messages] == ["leased@example.com"] and waiting() == []
