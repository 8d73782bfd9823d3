"""Integration → Modules: optional modules with install and uninstall."""

from flask import abort, redirect, render_template, url_for

from portal.blueprints.gdpr import bp
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.services import modules as module_service
from portal.services.permissions import requires


@bp.route("/admin/integration/modules")
@requires("settings.modules")
def modules():
    return render_template("gdpr/modules.html", rows=_rows(), action_form=ActionForm())


@bp.route("/admin/integration/modules/<key>/install", methods=["POST"])
@requires("settings.modules")
def install_module(key):
    return _change(key, module_service.install)


@bp.route("/admin/integration/modules/<key>/uninstall", methods=["POST"])
@requires("settings.modules")
def uninstall_module(key):
    return _change(key, module_service.uninstall)


def _change(key, change):
    module = module_service.get(key)
    if module is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    error = None
    try:
        change(module)
        db.session.commit()
    except module_service.ModuleError as refused:
        error = refused.message
    if htmx:
        return render_template("gdpr/_module.html", module=module,
                               installed=module_service.installed(module), error=error,
                               action_form=ActionForm())
    return redirect(url_for("gdpr.modules"))


def _rows():
    return [(module, module_service.installed(module)) for module in module_service.MODULES]
