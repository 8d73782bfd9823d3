"""Gates a signed-in user must pass before anything else (expired password, 2FA enrolment, consent)."""

from collections.abc import Callable
from dataclasses import dataclass

from flask import redirect, request, url_for
from flask_login import current_user

from portal.extensions import htmx

ALWAYS_OPEN = {"static", "favicon", "auth.logout", "dev.outbox"}


@dataclass(frozen=True)
class Gate:
    """`applies(user)` true means the user may only reach `endpoint` (and `also_open`)."""

    name: str
    applies: Callable
    endpoint: str
    also_open: frozenset = frozenset()


_gates: list[Gate] = []


def register_gate(gate: Gate) -> None:
    if all(existing.name != gate.name for existing in _gates):
        _gates.append(gate)


def enforce_gates():
    """before_request hook: send a gated user to their gate (API gets JSON 403)."""
    if not current_user.is_authenticated or request.endpoint in ALWAYS_OPEN:
        return None
    for gate in _gates:
        if not gate.applies(current_user):
            continue
        if request.endpoint == gate.endpoint or request.endpoint in gate.also_open:
            return None
        if request.blueprint == "api":
            return {"error": {"code": gate.name, "message": "Finish this step first."}}, 403
        target = url_for(gate.endpoint)
        if htmx:
            return "", 204, {"HX-Redirect": target}
        return redirect(target)
    return None
