"""Alembic environment: runs on the connection services.db hands over, or on the configured URL."""
from alembic import context
from sqlmodel import SQLModel

import models  # noqa: F401 - registers every table

target_metadata = SQLModel.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get('connection')
    if connection is None:
        from services.core.db import get_engine
        with get_engine(config.get_main_option('sqlalchemy.url')).begin() as conn:
            _run_with(conn)
    else:
        _run_with(connection)


def _run_with(connection) -> None:  # noqa: ANN001
    from services.core.db import engine_object
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == 'sqlite', compare_type=True,
                      include_name=lambda name, kind, _parent: kind != 'table' or not engine_object(name))
    with context.begin_transaction():
        context.run_migrations()


run()
