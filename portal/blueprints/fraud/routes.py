"""The catalog, the order form with its fraud banner, and phone verification in two steps."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.blueprints.fraud import bp
from portal.blueprints.fraud.forms import CodeForm, OrderForm, PhoneForm
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.services import fraud, ordering, phone_verification
from portal.services.permissions import requires
from portal.services.redirects import safe_next
from portal.services.throttle import per_ip, per_user


@bp.route("/order")
@requires("client.order")
def catalog():
    return render_template("fraud/catalog.html", product_types=fraud.catalog(),
                           blocked=lambda tariff: fraud.order_blocked(current_user, tariff))


@bp.route("/order/<int:tariff_id>", methods=["GET", "POST"])
@requires("client.order")
def order(tariff_id):
    tariff = ordering.get_tariff(tariff_id) or abort(404)
    form, status = OrderForm(), 200
    if form.validate_on_submit():
        try:
            placed = ordering.place_order(current_user, tariff)
        except ordering.OrderRefused as refusal:
            form.form_errors.append(refusal.message)
            status = 403
        else:
            db.session.commit()
            flash(f"Order #{placed.id} placed: {tariff.name}.", "success")
            return redirect(url_for("client.orders"))
    return render_template("fraud/order.html", tariff=tariff, form=form,
                           blocked=fraud.order_blocked(current_user, tariff)), status


@bp.route("/verify-phone")
@requires("client.order")
def verify_phone():
    return _verify_page(next_url=request.args.get("next"))


@bp.route("/verify-phone/send", methods=["POST"])
@requires("client.order")
def send_code():
    form = PhoneForm()
    if form.validate_on_submit():
        try:
            phone_verification.start(current_user, form.phone.data, _next(form.next.data))
        except phone_verification.VerificationError as error:
            form.phone.errors.append(error.message)
        else:
            return _verify_step(form.next.data)
    return _verify_page(form.next.data, phone_form=form)


@bp.route("/verify-phone/check", methods=["POST"])
@requires("client.order")
@per_ip("RATELIMIT_PHONE_CODE_PER_IP")
@per_user("RATELIMIT_PHONE_CODE_PER_ACCOUNT")
def check_code():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            verified = phone_verification.check(current_user, form.code.data)
        except phone_verification.VerificationError as error:
            form.code.errors.append(error.message)
        else:
            flash(f"Your phone number {verified.number} is verified.", "success")
            target = _next(form.next.data) or verified.return_to or url_for("fraud.catalog")
            if htmx:
                return "", 200, {"HX-Redirect": target}
            return redirect(target)
    return _verify_page(form.next.data, code_form=form)


@bp.route("/verify-phone/cancel", methods=["POST"])
@requires("client.order")
def cancel_code():
    if not ActionForm().validate_on_submit():
        abort(400)
    phone_verification.cancel(current_user)
    return _verify_step(request.form.get("next"))


def _next(target: str | None) -> str | None:
    return safe_next(target, "") or None


def _verify_step(next_url: str | None):
    """After a change: the new step as a fragment for htmx, else the page again (POST-redirect-GET)."""
    if htmx:
        return _verify_page(next_url)
    return redirect(url_for("fraud.verify_phone", next=_next(next_url)))


def _verify_page(next_url: str | None, phone_form=None, code_form=None):
    next_url = _next(next_url)
    verification = phone_verification.pending(current_user)
    context = {
        "verification": verification,
        "phone_form": phone_form or PhoneForm(formdata=None, phone=current_user.phone or "", next=next_url),
        "code_form": code_form or CodeForm(formdata=None, next=next_url),
        "action_form": ActionForm(),
        "next_url": next_url,
    }
    if verification is not None and phone_form is not None and phone_form.phone.data != verification.number:
        context["verification"] = None  # another number was refused: stay on the number step
    template = "fraud/_verify.html" if htmx else "fraud/verify.html"
    return render_template(template, **context)
