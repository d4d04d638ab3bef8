"""Schema fuzzing: every operation of the OpenAPI document, with generated valid and invalid
requests, anonymous and with a user's token. No 5xx, and every answer (errors included)
is declared in the schema, with the body and content type it really has."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.conftest import PASSWORD, unique_name
from tests.harness import ServerProcess, start_embedded

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# Small and fixed, so the whole run (every operation, both generation modes, anonymous
# and authenticated) takes well under a minute in CI.
EXAMPLES = 6
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
    report_multiple_bugs=False,
)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerProcess]:
    process = start_embedded()
    try:
        yield process
    finally:
        process.stop()


def _token(server: ServerProcess) -> str:
    reply = httpx.post(
        server.http_url + "/api/v1/auth/register",
        json={"username": unique_name("fz"), "password": PASSWORD},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["access_token"])


def _fuzz(server: ServerProcess, headers: dict[str, str]) -> list[str]:
    schema: Any = schemathesis.openapi.from_url(server.http_url + "/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @FUZZ
            def run(case: Any) -> None:
                case.call_and_validate(base_url=server.http_url, headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing to make invalid (an operation without parameters)
            except Exception as exc:  # one line per failing operation and mode
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:600]}")
    return failures


@pytest.mark.timeout(150)
def test_api_conforms_to_its_schema_anonymous(fuzz_server: ServerProcess) -> None:
    failures = _fuzz(fuzz_server, {})
    assert not failures, "\n\n".join(failures)


@pytest.mark.timeout(150)
def test_api_conforms_to_its_schema_as_a_user(fuzz_server: ServerProcess) -> None:
    failures = _fuzz(fuzz_server, {"Authorization": f"Bearer {_token(fuzz_server)}"})
    assert not failures, "\n\n".join(failures)
    assert "Traceback" not in fuzz_server.log()
