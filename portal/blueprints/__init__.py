"""Blueprint registration: one package per area."""


def register_blueprints(app) -> None:
    from portal.blueprints.admin import bp as admin_bp
    from portal.blueprints.api import bp as api_bp
    from portal.blueprints.auth import bp as auth_bp
    from portal.blueprints.client import bp as client_bp
    from portal.blueprints.dev import bp as dev_bp
    from portal.blueprints.fraud import bp as fraud_bp
    from portal.blueprints.gdpr import bp as gdpr_bp
    from portal.blueprints.settings import bp as settings_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(client_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(fraud_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp)
    app.register_blueprint(gdpr_bp)
    if "console" in (app.config["MAIL_BACKEND"], app.config["SMS_BACKEND"]):
        app.register_blueprint(dev_bp, url_prefix="/dev")
