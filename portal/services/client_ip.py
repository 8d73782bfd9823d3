"""The client's address: the peer, or what a trusted proxy forwarded (never a raw X-Forwarded-For)."""

import ipaddress

from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix


def client_ip() -> str:
    """The client's address, as logs and records keep it."""
    return request.remote_addr or "unknown"


def client_network() -> str:
    """What per-address limits count: an IPv4 address, or the /64 of an IPv6 one. One subscriber
    gets a whole /64, so counting each IPv6 address alone would give them endless fresh budgets."""
    address = client_ip()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


class TrustedProxyFix:
    """ProxyFix for requests whose peer is one of the configured proxies; others pass untouched,
    so a client that reaches the server directly cannot choose its address by a header."""

    def __init__(self, wsgi_app, trusted: str, x_for: int, x_proto: int):
        self.plain = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=x_for, x_proto=x_proto)
        self.networks = [ipaddress.ip_network(part.strip(), strict=False)
                         for part in trusted.split(",") if part.strip()]

    def __call__(self, environ, start_response):
        app = self.fixed if self._from_proxy(environ.get("REMOTE_ADDR", "")) else self.plain
        return app(environ, start_response)

    def _from_proxy(self, peer: str) -> bool:
        if not peer:  # a unix socket (gunicorn's GUNICORN_BIND=unix:...): only the proxy can reach it
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def install_proxy_fix(app) -> None:
    """Trust X-Forwarded-For / -Proto only as configured (PROXY_FIX_*), and only from the proxies."""
    cfg = app.config
    if cfg["PROXY_FIX_X_FOR"] or cfg["PROXY_FIX_X_PROTO"]:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, cfg["PROXY_FIX_TRUSTED"],
                                       int(cfg["PROXY_FIX_X_FOR"]), int(cfg["PROXY_FIX_X_PROTO"]))
