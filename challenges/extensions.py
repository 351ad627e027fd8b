"""Unbound extension instances; create_app binds them."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import ColumnElement, MetaData, event, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def lock_row(obj: Base) -> None:
    """Serialise writers on one row until the transaction ends, before counting or checking a limit: a
    no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so two simultaneous
    requests cannot both see room."""
    model = type(obj)
    db.session.execute(update(model).where(model.id == obj.id).values(id=model.id))  # type: ignore[attr-defined]


def contains_text(column: ColumnElement, query: str) -> ColumnElement[bool]:
    """Case-insensitive "contains" for search boxes. % and _ are matched as themselves: typed into a
    search they are text, not wildcards (a search for "100%" must not list everything)."""
    return func.lower(column).contains(query.strip().lower(), autoescape=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    """SQLite only: enforce foreign keys, let readers and a writer overlap, wait on locks."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
