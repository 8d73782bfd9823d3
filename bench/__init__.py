"""The benchmark: the portal at 100,000-user scale against a bare Flask app, under the same gunicorn."""
