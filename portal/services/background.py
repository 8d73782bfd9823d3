"""Deliveries the response must not wait for: a sender thread per channel and process, in the app's context.

A recovery link handed to a mail relay takes as long as the relay does; a request for an unknown
account hands nothing over. Sent in the request, that difference would tell anyone timing the
answer which accounts exist. Work queued in a request starts once the request's own work is done
(at its teardown, as the server begins to write the answer: run beside it, it would slow the
answer it must not show in), in order per channel; a mail relay that hangs holds up mail only, not
the texts. A worker that exits (gunicorn recycling it, a shutdown) finishes its queues first.
Work can also be armed for later (`after`: a retry once a relay may be back); a timer is no queue:
`settle` does not wait for it, and an exiting worker drops it.
"""

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

from flask import current_app, g, has_request_context

log = logging.getLogger(__name__)

CHANNELS = ("mail", "sms")
_senders = {channel: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"portal-{channel}")
            for channel in CHANNELS}
_queued: set[Future] = set()
_queued_lock = threading.Lock()
_timers: dict[tuple, tuple[float, threading.Timer]] = {}  # (channel, work) -> (when it fires, its timer)


def init_app(app) -> None:
    app.teardown_request(_start_queued)


def later(channel: str, work, *args) -> None:
    """Run `work(*args)` on the sender thread of `channel` ("mail" or "sms") in a context of the
    current app, after the current request (at once outside one); its exceptions are logged. Pass
    plain values: the caller's database objects belong to the caller's session."""
    sender = _senders[channel]
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            try:
                work(*args)
            except Exception:
                log.exception("background work %s failed", getattr(work, "__qualname__", work))

    if has_request_context():
        g.setdefault("background_work", []).append((sender, run))
    else:
        _start(sender, run)


def after(seconds: float, channel: str, work) -> None:
    """Queue `work()` on the sender thread of `channel` once `seconds` have passed, in a context of
    the current app. One timer per work: armed already to fire by then, it is left as it is."""
    key, due = (channel, work), time.monotonic() + seconds
    app = current_app._get_current_object()
    with _queued_lock:
        armed = _timers.get(key)
        if armed is not None and armed[0] <= due:
            return
        if armed is not None:
            armed[1].cancel()
        timer = threading.Timer(seconds, _fire, (app, key))
        timer.daemon = True
        _timers[key] = (due, timer)
    timer.start()


def _fire(app, key: tuple) -> None:
    with _queued_lock:
        if _timers.get(key, (None, None))[1] is threading.current_thread():
            del _timers[key]
    with app.app_context():
        later(*key)


def cancel_timers() -> None:
    """Drop the work armed for later: a test done with an app keeps its retries from the next test."""
    with _queued_lock:
        armed = list(_timers.values())
        _timers.clear()
    for _due, timer in armed:
        timer.cancel()


def _start_queued(_error) -> None:
    for sender, run in g.pop("background_work", []):
        _start(sender, run)


def _start(sender: ThreadPoolExecutor, run) -> None:
    future = sender.submit(run)
    with _queued_lock:
        _queued.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _queued_lock:
        _queued.discard(future)


def settle(timeout: float = 30.0) -> bool:
    """Wait until everything queued so far has run; False if some is still running at `timeout`."""
    with _queued_lock:
        queued = set(_queued)
    return not wait(queued, timeout=timeout).not_done
