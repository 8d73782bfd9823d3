"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from portal import create_app
from portal.extensions import db
from tests.conftest import FAST_ARGON2

INDEXES = {  # every index with its definition, as the database itself reports it
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
              "AND tbl_name != 'alembic_version'",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                  "AND tablename != 'alembic_version'",
}


def indexes(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = dict(conn.execute(text(INDEXES[engine.dialect.name])).all())
    engine.dispose()
    return found


def test_upgrade_matches_models(tmp_path, database_url, base_config):
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
        # Alembic cannot compare expression indexes (it skips them, or sees each as removed and
        # added): the database's own definitions of every index are compared instead.
        assert [change for change in diff if change[0] not in ("add_index", "remove_index")] == []
        migrated, created = indexes(url), indexes(base_config["SQLALCHEMY_DATABASE_URI"])
        if database_url.startswith("sqlite"):  # SQLite keeps each CREATE INDEX as it was typed
            migrated, created = set(migrated), set(created)
        assert migrated == created
    finally:
        if not database_url.startswith("sqlite"):
            drop()
