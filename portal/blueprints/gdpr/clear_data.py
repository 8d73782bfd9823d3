"""Clients → client → Clear data: preview, confirmation, and the anonymization's progress."""

from functools import wraps

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.gdpr import bp
from portal.blueprints.gdpr.forms import ClearDataForm
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.models import Client
from portal.models.compliance import ErasureJob
from portal.services import gdpr, modules, reauth
from portal.services.permissions import requires
from portal.services.throttle import per_ip, per_user


def module_installed(view):
    """While "GDPR client data cleaning" is not installed, Clear data does not exist."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not modules.installed(modules.GDPR_CLEAR_DATA):
            abort(404)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/admin/clients/<int:client_id>/clear-data", methods=["GET", "POST"])
@requires("clients.clear_data")
@module_installed
@per_ip("RATELIMIT_CLEAR_DATA_PER_IP")
@per_user("RATELIMIT_CLEAR_DATA_PER_USER")
def clear_data(client_id):
    client = db.get_or_404(Client, client_id)
    running = gdpr.unfinished_job(client)
    if running is not None:
        return redirect(url_for("gdpr.clear_data_progress", client_id=client.id, job_id=running.id))
    form = ClearDataForm()
    if form.validate_on_submit():
        try:
            job = gdpr.start(client, current_user, form.current_password.data,
                             form.client_name.data)
        except reauth.CurrentPasswordWrong as error:
            form.current_password.errors.append(error.message)
        except gdpr.ClearRefused as refused:
            form[refused.field].errors.append(refused.message)
        else:
            return redirect(url_for("gdpr.clear_data_progress", client_id=client.id, job_id=job.id))
    status = 422 if form.errors else 200
    return render_template("gdpr/clear_data.html", preview=gdpr.preview(client), form=form), status


@bp.route("/admin/clients/<int:client_id>/clear-data/jobs/<int:job_id>")
@requires("clients.clear_data")
@module_installed
def clear_data_progress(client_id, job_id):
    job = _job(client_id, job_id)
    return render_template("gdpr/clear_data_progress.html", job=job, action_form=ActionForm())


@bp.route("/admin/clients/<int:client_id>/clear-data/jobs/<int:job_id>/step", methods=["POST"])
@requires("clients.clear_data")
@module_installed
def clear_data_step(client_id, job_id):
    """One progress poll: run batches for about a second, answer with the progress fragment."""
    job = _job(client_id, job_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    gdpr.step(job)
    if htmx:
        return render_template("gdpr/_clear_data_progress.html", job=job, action_form=ActionForm())
    return redirect(url_for("gdpr.clear_data_progress", client_id=client_id, job_id=job.id))


def _job(client_id: int, job_id: int) -> ErasureJob:
    job = db.get_or_404(ErasureJob, job_id)
    if job.client_id != client_id:
        abort(404)
    return job
