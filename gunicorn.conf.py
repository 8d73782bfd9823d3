"""gunicorn settings for production (`gunicorn wsgi:app` reads this file from the working directory).

Behind a TLS proxy on the same host: the portal listens on loopback only, and gunicorn and the
portal (PROXY_FIX_*) trust X-Forwarded-* headers from that proxy alone. Every value can be set
from the environment without editing this file.
"""

import logging
import os
import re

from gunicorn.glogging import Logger

# Loopback only: the proxy is the one way in. GUNICORN_BIND="unix:/run/portal.sock" also works.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: argon2 and page rendering are CPU work, and the proxy buffers slow clients.
# Twice the cores (plus one) hides database waits; WEB_CONCURRENCY overrides (gunicorn's variable).
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
worker_class = "sync"

# A request may wait for SMTP or Vonage (10 s timeouts each in portal/config.py): 30 s is enough;
# a worker stuck longer is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5

# No control socket: one fixed path per user would be shared by every gunicorn on the machine.
control_socket_disable = True

# Recycle workers now and then so that slow leaks cannot grow; jitter keeps them from restarting together.
max_requests = 100000
max_requests_jitter = 10000

# The proxy's address(es): gunicorn takes X-Forwarded-Proto (https) only from these.
# Keep it equal to the portal's PROXY_FIX_TRUSTED.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log on stdout (each line starts with the worker's pid), errors on stderr. No query
# strings, cookies or referers: links in messages carry secrets (see RedactingLogger).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(p)s %({x-forwarded-for}i)s %(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss "%(a)s"'


def post_fork(server, worker):
    """Before the worker builds the app: the portal's (and its libraries') warnings go to
    gunicorn's error log, with its time and pid, instead of a bare line on stderr."""
    root = logging.getLogger()
    for handler in logging.getLogger("gunicorn.error").handlers:
        root.addHandler(handler)
    root.setLevel(logging.WARNING)


SECRET_IN_PATH = re.compile(r"[A-Za-z0-9_\-]{20,}")


class RedactingLogger(Logger):
    """The access log without the one-time tokens that confirmation, reset and key links carry."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = SECRET_IN_PATH.sub("[redacted]", atoms["U"] or "")
        atoms.update(U=path, q="-", f="-", r=f"{atoms['m']} {path} {atoms['H']}")
        return atoms


logger_class = RedactingLogger
