"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine

from portal import create_app
from portal.extensions import db
from tests.conftest import FAST_ARGON2


def test_upgrade_matches_models(tmp_path, database_url):
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    else:  # a second fresh PostgreSQL database beside the run's
        from tests.conftest import _create_postgres_database

        url, drop = _create_postgres_database(database_url)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, **FAST_ARGON2})
    try:
        with app.app_context():
            upgrade()
            engine = create_engine(url)
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            engine.dispose()
            db.engine.dispose()
        assert diff == []
    finally:
        if not database_url.startswith("sqlite"):
            drop()
