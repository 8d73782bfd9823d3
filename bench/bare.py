"""The yardstick: a bare Flask app that answers "hello", served by the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "hello"
