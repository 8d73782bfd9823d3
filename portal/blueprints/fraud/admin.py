"""Staff's fraud protection settings: verification, the numbers' filter and the covered services."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.fraud import bp
from portal.blueprints.fraud.forms import ProtectionForm
from portal.extensions import db
from portal.services import fraud
from portal.services.permissions import requires


@bp.route("/admin/fraud-protection", methods=["GET", "POST"])
@requires("settings.fraud")
def protection_settings():
    product_types = fraud.catalog()
    covered_types = [t.id for t in product_types if t.needs_phone_verification]
    covered_tariffs = [t.id for p in product_types for t in p.tariffs if t.needs_phone_verification]
    form = ProtectionForm(data={**fraud.current_values(current_user.provider_id),
                                "product_types": covered_types, "tariffs": covered_tariffs})
    form.product_types.choices = [(t.id, t.name) for t in product_types]
    form.tariffs.choices = [(t.id, t.name) for p in product_types for t in p.tariffs]
    if form.validate_on_submit():
        fraud.save_protection(form.data, set(form.product_types.data), set(form.tariffs.data),
                              current_user.provider_id)
        db.session.commit()
        flash("Fraud protection settings saved.", "success")
        return redirect(url_for("fraud.protection_settings"))
    return render_template("fraud/protection.html", form=form, product_types=product_types,
                           flagged=fraud.flagged_verifications()), 422 if form.errors else 200
