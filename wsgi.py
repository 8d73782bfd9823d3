"""WSGI entry point: `gunicorn wsgi:app`."""

from gunicorn.errors import AppImportError

from portal import create_app
from portal.settings_loader import ConfigError

try:
    app = create_app()
except ConfigError as error:  # gunicorn prints it as one line and stops, instead of a traceback per worker
    raise AppImportError(f"portal configuration: {error}") from None
