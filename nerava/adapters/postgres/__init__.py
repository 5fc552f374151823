"""The storage ports on PostgreSQL: the production store."""

from nerava.adapters.postgres.database import PostgresDatabase, PostgresUnitOfWork

__all__ = ["PostgresDatabase", "PostgresUnitOfWork"]
