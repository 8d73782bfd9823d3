"""The client's users and their Rights, managed by the owner (or a user with that right)."""

from flask import abort
from flask_login import current_user

from portal.blueprints.admin.users import edit_rights
from portal.blueprints.client import bp
from portal.blueprints.lists import list_args, render_list
from portal.services import rights
from portal.services.permissions import requires


@bp.route("/users")
@requires("client.users")
def users():
    page = rights.list_client_users(client_id=current_user.client_id, **list_args())
    return render_list("client/users.html", "client/_users.html", page=page)


@bp.route("/users/<int:user_id>/rights", methods=["GET", "POST"])
@requires("client.users")
def user_rights(user_id):
    target = rights.client_user_for(current_user, user_id) or abort(404)
    return edit_rights(target, "client.user_rights", "client/user_rights.html", "client.users")
