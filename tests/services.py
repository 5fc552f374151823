"""The servers some tests need: where to find them, and what to do without them.

A test that needs a server it cannot reach is skipped with the reason, or,
when ``NERAVA_REQUIRE_SERVICES=1`` (as in CI), fails with it.
"""

from __future__ import annotations

import os
from typing import NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

__all__ = [
    "REQUIRE_SERVICES",
    "postgres_admin_url",
    "postgres_problem",
    "postgres_url_for",
    "postgres_url_in_schema",
    "services_required",
    "unavailable",
]

REQUIRE_SERVICES = "NERAVA_REQUIRE_SERVICES"
POSTGRES_URL = "NERAVA_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def services_required() -> bool:
    """Whether a missing server fails the tests instead of skipping them."""
    return os.environ.get(REQUIRE_SERVICES, "") == "1"


def unavailable(service: str, reason: str) -> NoReturn:
    """Skip the running test because ``service`` is out of reach, or fail it."""
    if services_required():
        pytest.fail(
            f"needed ({REQUIRE_SERVICES}=1) but unavailable: {service}: {reason}",
            pytrace=False,
        )
    pytest.skip(f"{service} unavailable: {reason}")


def postgres_admin_url() -> str:
    """Return the URL of a PostgreSQL role allowed to create databases."""
    return os.environ.get(POSTGRES_URL, DEFAULT_POSTGRES_URL)


def postgres_problem(url: str) -> str | None:
    """Return why the server at ``url`` cannot be used, or None when it can."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot connect to {url}: {exc}".strip()
    return None


def postgres_url_for(admin_url: str, database: str) -> str:
    """Return ``admin_url`` pointed at another database of the same server."""
    if "://" in admin_url:
        return urlunsplit(urlsplit(admin_url)._replace(path=f"/{database}"))
    return make_conninfo(admin_url, dbname=database)


def postgres_url_in_schema(url: str, schema: str) -> str:
    """Return ``url`` with ``schema`` as the only schema its tables go to."""
    options = f"-csearch_path={schema}"
    if "://" not in url:
        return make_conninfo(url, options=options)
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query)))
