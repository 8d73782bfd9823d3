"""Forms shared by every blueprint."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token travels."""
