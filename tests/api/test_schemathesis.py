"""Schemathesis against the OpenAPI document the app serves, in process.

Every operation is called with generated requests (valid and otherwise)
under an admin key; no answer may be a server error, and every answer must
match the document's status codes, content types and schemas.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from dependency_injector import providers
from hypothesis import HealthCheck, settings
from litestar import Litestar
from schemathesis import checks

from nerava.adapters.memory import MemoryDatabase
from nerava.config import Settings
from nerava.container import build_container
from nerava.domain.access import Scope
from nerava.entrypoints.http.app import create_app

EXAMPLES = 15


def _app_and_admin() -> tuple[Litestar, dict[str, str]]:
    container = build_container(Settings(rate_limit_per_minute=0, allow_demo_at=True))
    container.database.override(providers.Object(MemoryDatabase()))
    _, secret = asyncio.run(container.keys().create([Scope.ADMIN]))
    return create_app(container, background=False), {
        "Authorization": f"Bearer {secret}"
    }


APP, ADMIN = _app_and_admin()
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_is_a_server_error_or_off_the_document(case: Any) -> None:
    case.call_and_validate(
        headers=ADMIN,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
