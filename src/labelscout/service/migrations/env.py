"""Alembic environment: migrations run on the connection the job store hands over
(``config.attributes["connection"]``), so SQLite and PostgreSQL upgrade the same way."""
from alembic import context

from labelscout.service.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
