"""The audit log and the auth log, filterable and paged."""

from flask import request

from portal.blueprints.admin import bp
from portal.blueprints.lists import list_args, render_list
from portal.services import logs
from portal.services.listing import parse_id
from portal.services.permissions import requires


@bp.route("/audit-log")
@requires("logs.audit")
def audit_log():
    args = list_args("action", "actor", "target")
    target_type, _, target_id = args.pop("target").partition(":")
    args.pop("search")
    page = logs.list_audit(target_type=target_type, target_id=parse_id(target_id), **args)
    return render_list("admin/audit_log.html", "admin/_audit_log.html", page=page,
                       actions=logs.audit_actions(), targets=logs.audit_targets(), filters=request.args)


@bp.route("/auth-log")
@requires("logs.auth")
def auth_log():
    page = logs.list_auth(**list_args("event"))
    return render_list("admin/auth_log.html", "admin/_auth_log.html", page=page,
                       events=logs.auth_events(), filters=request.args)
