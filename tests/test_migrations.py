"""The migrations build exactly the schema the models describe, and each new one goes down and up."""

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from portal import create_app
from portal.extensions import db
from tests.conftest import FAST_ARGON2, _create_postgres_database

INDEXES = {  # every index with its definition, as the database itself reports it
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
              "AND tbl_name != 'alembic_version'",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                  "AND tablename != 'alembic_version'",
}
BEFORE_PURGE_BREAKDOWN = "d7b2e5f8a1c3"  # the head before purge_run.rows_by_table and ix_user_phone
BEFORE_MAPPING_BY_GROUP_ID = "02cb7123a7f2"  # role mappings named their access group
BEFORE_SESSION_EPOCH = "e5a0c7d94b12"  # user had no session_epoch
SESSION_EPOCH = "f1c6a8b3d240"  # user.session_epoch; no pending_notice yet


def indexes(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = dict(conn.execute(text(INDEXES[engine.dialect.name])).all())
    engine.dispose()
    return found


@pytest.fixture
def empty_url(tmp_path, database_url):
    """A fresh, empty database beside the run's: a file on SQLite, a new database on PostgreSQL."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    url, drop = _create_postgres_database(database_url)
    yield url
    drop()


def migrating_app(url: str):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, **FAST_ARGON2})


def test_upgrade_matches_models(empty_url, database_url, base_config):
    app = migrating_app(empty_url)
    with app.app_context():
        upgrade()
        engine = create_engine(empty_url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        engine.dispose()
        db.engine.dispose()
    # Alembic cannot compare expression indexes (it skips them, or sees each as removed and
    # added): the database's own definitions of every index are compared instead.
    assert [change for change in diff if change[0] not in ("add_index", "remove_index")] == []
    migrated, created = indexes(empty_url), indexes(base_config["SQLALCHEMY_DATABASE_URI"])
    if database_url.startswith("sqlite"):  # SQLite keeps each CREATE INDEX as it was typed
        migrated, created = set(migrated), set(created)
    assert migrated == created


def _purge_run_schema(url: str) -> tuple[set[str], set[str], list[tuple]]:
    """purge_run's columns, the names of user's indexes and purge_run's rows (id, rows_deleted),
    read on a connection of their own that is closed again (a migration waits for no lock)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = inspect(conn)
        columns = {column["name"] for column in found.get_columns("purge_run")}
        user_indexes = {index["name"] for index in found.get_indexes("user")}
        kept = ", rows_by_table" if "rows_by_table" in columns else ""
        rows = conn.execute(text(f"SELECT id, rows_deleted{kept} FROM purge_run")).all()
    engine.dispose()
    return columns, user_indexes, [tuple(row) for row in rows]


def test_purge_breakdown_and_phone_index_go_down_and_up_again(empty_url):
    """A run recorded before the breakdown survives both ways, with no breakdown."""
    app = migrating_app(empty_url)
    with app.app_context():
        upgrade(revision=BEFORE_PURGE_BREAKDOWN)
        engine = create_engine(empty_url)
        with engine.begin() as conn:
            at = datetime(2026, 11, 1, tzinfo=UTC)
            conn.execute(text("INSERT INTO purge_run (started_at, finished_at, cutoff, period_days, "
                              "rows_deleted) VALUES (:at, :at, :at, 30, 7)"), {"at": at})
        engine.dispose()
        columns, user_indexes, rows = _purge_run_schema(empty_url)
        assert "rows_by_table" not in columns and "ix_user_phone" not in user_indexes

        upgrade()
        columns, user_indexes, rows = _purge_run_schema(empty_url)
        assert "ix_user_phone" in user_indexes and rows == [(1, 7, None)]

        downgrade(revision=BEFORE_PURGE_BREAKDOWN)
        columns, user_indexes, rows = _purge_run_schema(empty_url)
        assert "rows_by_table" not in columns and "ix_user_phone" not in user_indexes and rows == [(1, 7)]

        upgrade()
        assert _purge_run_schema(empty_url)[2] == [(1, 7, None)]
        db.engine.dispose()


def _mappings(url: str, grants: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT role, full_access, {grants} FROM keycloak_role_mapping ORDER BY role")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_role_mappings_move_from_group_names_to_group_ids_and_back(empty_url):
    """Each mapping finds its group by the name it held; one naming no group granted nothing and
    is dropped (that role is refused until mapped again); going down writes the names back."""
    app = migrating_app(empty_url)
    with app.app_context():
        upgrade(revision=BEFORE_MAPPING_BY_GROUP_ID)
        engine = create_engine(empty_url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO access_group (id, name, description) VALUES (7, 'Finance', '')"))
            provider = conn.execute(text("SELECT id FROM provider")).scalar_one()  # the migrations' default
            conn.execute(text("INSERT INTO keycloak_role_mapping (provider_id, role, full_access, access_group) "
                              "VALUES (:p, 'admin', true, NULL), (:p, 'finance', false, 'Finance'), "
                              "(:p, 'gone', false, 'Renamed long ago')"), {"p": provider})
        engine.dispose()

        upgrade()
        assert _mappings(empty_url, "access_group_id") == [("admin", True, None), ("finance", False, 7)]
        downgrade(revision=BEFORE_MAPPING_BY_GROUP_ID)
        assert _mappings(empty_url, "access_group") == [("admin", True, None), ("finance", False, "Finance")]
        upgrade()
        assert _mappings(empty_url, "access_group_id") == [("admin", True, None), ("finance", False, 7)]
        db.engine.dispose()


def test_session_epoch_goes_down_and_up_keeping_every_index(empty_url):
    """Adding or dropping a user column must not cost the user table its expression indexes (a
    batch on SQLite copies the table without them); rows already there start at epoch 0."""
    app = migrating_app(empty_url)
    with app.app_context():
        upgrade(revision=BEFORE_SESSION_EPOCH)
        before = indexes(empty_url)
        engine = create_engine(empty_url)
        with engine.begin() as conn:
            provider = conn.execute(text("SELECT id FROM provider")).scalar_one()
            conn.execute(text("INSERT INTO \"user\" (provider_id, kind, login, email, name, full_access, "
                              "access_denied, is_active_account, failed_logins) VALUES "
                              "(:p, 'client', 'early', 'early@example.com', '', false, false, true, 0)"),
                         {"p": provider})
        upgrade(revision=SESSION_EPOCH)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT session_epoch FROM \"user\"")).scalar_one() == 0
        engine.dispose()
        assert set(indexes(empty_url)) == set(before)
        downgrade(revision=BEFORE_SESSION_EPOCH)
        assert indexes(empty_url) == before
        db.engine.dispose()


def test_pending_notice_goes_down_and_up_with_its_indexes(empty_url):
    app = migrating_app(empty_url)
    with app.app_context():
        upgrade(revision=SESSION_EPOCH)
        before = indexes(empty_url)
        upgrade()
        added = set(indexes(empty_url)) - set(before)  # PostgreSQL lists the primary key's index too
        assert added - {"pk_pending_notice"} == {"ix_pending_notice_next_attempt_at", "ix_pending_notice_user_id"}
        downgrade(revision=SESSION_EPOCH)
        engine = create_engine(empty_url)
        with engine.connect() as conn:
            assert "pending_notice" not in inspect(conn).get_table_names()
        engine.dispose()
        assert indexes(empty_url) == before
        upgrade()
        db.engine.dispose()
