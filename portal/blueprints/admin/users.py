"""Client users and their Rights, as staff see them."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.blueprints.admin import bp
from portal.blueprints.admin.forms import RightsForm
from portal.blueprints.lists import list_args, render_list
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.services import finance, lockout, rights
from portal.services.access import AccessError
from portal.services.listing import parse_id
from portal.services.permissions import grantable_by, has_function, required_function_of, requires
from portal.services.redirects import safe_next


@bp.route("/users")
@requires("users.view")
def users():
    args = list_args("client")  # ?client=<id>: one client's users (the client card links here)
    asked = args.pop("client")
    client = (finance.get_client(parse_id(asked) or 0) or abort(404)) if asked else None
    page = rights.list_client_users(client_id=client.id if client else None, **args)
    return render_list("admin/users.html", "admin/_users.html", page=page, client=client)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@requires("users.unlock")
def unlock_user(user_id):
    target = rights.client_user_for(current_user, user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    lockout.unlock_by_staff(current_user, target)
    db.session.commit()
    flash(f"{rights.shown_as(current_user, target)} is unlocked.", "success")
    if request.form.get("next"):  # the client card's Unlock
        return redirect(safe_next(request.form["next"], url_for("admin.dashboard")))
    return _back("admin.users", url_for("admin.dashboard"))


@bp.route("/users/<int:user_id>/rights", methods=["GET", "POST"])
@requires("users.rights")
def user_rights(user_id):
    target = rights.client_user_for(current_user, user_id) or abort(404)
    return edit_rights(target, "admin.user_rights", "admin/user_rights.html", "admin.users")


def edit_rights(target, endpoint: str, page_template: str, back_endpoint: str):
    """The Rights form of `target`, saved through the one rights service (both areas use it)."""
    form = RightsForm(data={"rights": rights.rights_of(target)})
    saved = False
    if form.validate_on_submit():
        try:
            rights.set_rights(current_user, target, form.rights.data or [])
            db.session.commit()
            saved = True
        except AccessError as refused:
            db.session.rollback()
            form.rights.errors.append(refused.message)
    shown = rights.shown_as(current_user, target)
    if saved and not htmx:
        flash(f"Rights of {shown} saved.", "success")
        return _back(back_endpoint, url_for(endpoint, user_id=target.id))  # without the list: the form
    status = 422 if form.errors else 200
    context = {"form": form, "target": target, "shown": shown, "action": url_for(endpoint, user_id=target.id),
               "grantable": grantable_by(current_user, "client"), "saved": saved}
    return render_template("admin/_rights.html" if htmx else page_template, **context), status


def _back(endpoint: str, otherwise: str):
    """Back to the list at `endpoint` if the user may open it, else to `otherwise`."""
    return redirect(url_for(endpoint) if has_function(current_user, required_function_of(endpoint)) else otherwise)
