"""Administrators, their Deny access toggle, and access groups."""

from types import SimpleNamespace

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from portal.blueprints.admin import bp
from portal.blueprints.admin.forms import AdminForm, DenyAccessForm, GroupForm
from portal.blueprints.lists import list_args, render_list, row_url
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.models.access import AccessGroup
from portal.services import access, factor_reset, lockout, profile, reauth, recovery
from portal.services.delivery import DeliveryError
from portal.services.permissions import grantable_by, has_function, modules, requires
from portal.services.throttle import per_ip, per_user


@bp.route("/administrators")
@requires("admins.view")
def administrators():
    page = access.list_admins(**list_args())
    return render_list("admin/administrators.html", "admin/_administrators.html",
                       page=page, shared=_row_shared(page.rows))


def _row_shared(admins: list) -> SimpleNamespace:
    """What the rows of `admins` in the Administrators list need, worked out once a page, not once
    a row (attributes, not dict keys: Jinja looks attributes up first)."""
    actor = current_user._get_current_object()
    may_manage = has_function(actor, "admins.manage")
    return SimpleNamespace(actor=actor, may_manage=may_manage,
                           manageable=access.manageable(actor, admins) if may_manage else set(),
                           csrf=generate_csrf(),
                           deny_url=row_url("admin.deny_access", "user_id"),
                           unlock_url=row_url("admin.unlock_administrator", "user_id"),
                           edit_url=row_url("admin.edit_administrator", "user_id"))


@bp.route("/administrators/<int:user_id>/unlock", methods=["POST"])
@requires("admins.manage")
def unlock_administrator(user_id):
    target = access.get_admin(user_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not access.can_manage(current_user, target):
        abort(403)
    lockout.unlock_by_staff(current_user, target)
    db.session.commit()
    flash(f"{target.login} is unlocked.", "success")
    return redirect(url_for("admin.administrators"))


@bp.route("/administrators/<int:user_id>/deny-access", methods=["POST"])
@requires("admins.manage")
def deny_access(user_id):
    target = access.get_admin(user_id) or abort(404)
    form = DenyAccessForm()
    if not form.validate_on_submit():
        abort(400)
    error, status = None, 200
    try:
        access.set_access_denied(current_user, target, bool(form.denied.data))
    except access.AccessError as refused:
        db.session.rollback()
        error, status = refused.message, 422
    if not htmx:
        db.session.commit()
        if error:
            flash(error, "error")
        return redirect(url_for("admin.administrators"))
    # Rendered before the commit, which would expire the rows it shows and so read them back.
    row = render_template("admin/_admin_row.html", admin=target, shared=_row_shared([target]), error=error)
    db.session.commit()
    return row, status


def _admin_form(form: AdminForm):
    form.groups.choices = [(g.id, g.name) for g in access.groups()]
    return form


def _admin_input(form: AdminForm) -> access.AdminInput:
    return access.AdminInput(
        login=form.login.data, email=form.email.data, name=form.name.data or "",
        full_access=form.full_access.data, group_ids=form.groups.data or [],
        functions=form.chosen_functions(grantable_by(current_user, "staff")))


def _render_admin_form(form, target=None):
    resettable = (target is not None and target.id != current_user.id and access.can_manage(current_user, target)
                  and bool(factor_reset.factors_of(target)))
    return render_template("admin/administrator_form.html", form=form, target=target,
                           modules=modules("staff"), grantable=set(grantable_by(current_user, "staff")),
                           groups=access.groups(), resettable=resettable)


def _put_error(form, error: access.AccessError | reauth.CurrentPasswordWrong, default_field: str = "login") -> None:
    """Show a refused change next to the field it concerns (the form was validated already)."""
    getattr(form, error.field or default_field).errors.append(error.message)


@bp.route("/administrators/new", methods=["GET", "POST"])
@requires("admins.manage")
@per_ip("RATELIMIT_REAUTH_PER_IP", typed="current_password")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT", typed="current_password")
def new_administrator():
    return _save_admin(None)


@bp.route("/administrators/<int:user_id>", methods=["GET", "POST"])
@requires("admins.manage")
@per_ip("RATELIMIT_REAUTH_PER_IP", typed="current_password")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT", typed="current_password")
def edit_administrator(user_id):
    return _save_admin(access.get_admin(user_id) or abort(404))


def _save_admin(target):
    form = _admin_form(AdminForm(data=None if target is None else {
        "login": target.login, "email": target.email, "name": target.name,
        "full_access": target.full_access, "groups": access.group_ids_of(target),
        "functions": access.own_functions(target)}))
    if form.validate_on_submit():
        try:
            if target is None:
                created = access.create_admin(current_user, _admin_input(form), form.current_password.data)
            else:
                changes = access.update_admin(current_user, target, _admin_input(form), form.current_password.data)
                if "email" in changes:
                    profile.tell_old_address(target, changes["email"][0], by_staff=True)
            db.session.commit()
        except (access.AccessError, reauth.CurrentPasswordWrong) as refused:
            db.session.rollback()
            _put_error(form, refused)
        else:
            flash(f"Administrator {form.login.data.strip()} saved.", "success")
            if target is None:
                _invite(created)
            elif "email" in changes and target.password_hash is None:
                _invite(target)  # the invite went to the old address and died there
            return redirect(url_for("admin.administrators"))
    return _render_admin_form(form, target)


def _invite(admin) -> None:
    """Email the new administrator a one-time set-password link; a failure can be retried."""
    try:
        recovery.send_password_link(admin, purpose="invite")
    except DeliveryError as error:
        flash(f"{error.message} Use \"Forgot your password?\" on the login page to send the "
              "link again.", "error")
    else:
        flash(f"A link to set a password was emailed to {admin.email}.", "success")


@bp.route("/access-permissions")
@requires("admins.view")
def access_permissions():
    return render_template("admin/access_permissions.html", groups=access.groups(),
                           members=access.member_counts(), modules=modules("staff"))


@bp.route("/access-permissions/new", methods=["GET", "POST"])
@requires("admins.manage")
def new_group():
    return _save_group(None)


@bp.route("/access-permissions/<int:group_id>", methods=["GET", "POST"])
@requires("admins.manage")
def edit_group(group_id):
    return _save_group(db.session.get(AccessGroup, group_id) or abort(404))


def _save_group(group: AccessGroup | None):
    form = GroupForm(data=None if group is None else {
        "name": group.name, "description": group.description, "functions": sorted(group.codes)})
    if form.validate_on_submit():
        try:
            access.save_group(current_user, group, form.name.data, form.description.data or "",
                              form.chosen_functions(grantable_by(current_user, "staff")))
            db.session.commit()
        except access.AccessError as refused:
            db.session.rollback()
            _put_error(form, refused, "name")
        else:
            flash("Access group saved.", "success")
            return redirect(url_for("admin.access_permissions"))
    return render_template("admin/group_form.html", form=form, group=group, modules=modules("staff"),
                           grantable=set(grantable_by(current_user, "staff")))
