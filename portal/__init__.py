"""The portal: application factory."""

import logging
import os

from flask import Flask

from portal.extensions import csrf, db, htmx, limiter, login_manager, migrate
from portal.services.client_ip import install_proxy_fix
from portal.settings_loader import load_config


def create_app(test_config=None) -> Flask:
    """Build the portal: configuration, extensions, blueprints, CLI."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH") or None,
    )
    load_config(app.config, app.instance_path, test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    install_proxy_fix(app)

    from portal import models  # noqa: F401  (register every table on db.metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, os.pardir, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)

    from portal import cli, errors, web
    from portal.blueprints import register_blueprints
    from portal.services import background, counters, notices, sessions

    background.init_app(app)
    notices.init_app(app)
    counters.init_app(app)
    sessions.init_app(app)
    web.init_app(app)
    errors.init_app(app)
    register_blueprints(app)
    cli.init_app(app)
    if "console" in (app.config["MAIL_BACKEND"], app.config["SMS_BACKEND"]) and not app.testing:
        logging.getLogger(__name__).warning(
            "console message backend active: messages go to /dev/outbox, not to people"
        )
    return app
