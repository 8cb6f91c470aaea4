"""Property-based: requests generated from the app's own OpenAPI (valid and invalid ones), sent
with a write token; no answer may be a 5xx (503 excepted: it is the documented "try again"), and
every answer must match the schema (status, content type, body).

Bounded to a few examples per route so that it stays within a minute on two cores.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.http.app import create_app
from app.service import Service
from tests.app.conftest import CORPUS
from tests.app.http.conftest import TEST_HOSTS, Tokens, bearer

EXAMPLES_PER_ROUTE = 30


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(service: Service, tokens: Tokens) -> Any:
    app = create_app(service, allowed_hosts=TEST_HOSTS)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def check_operation(
    operation: Any, mode: GenerationMode, token: str, pinned: dict[str, dict[str, str]]
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, **pinned))
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_request_breaks_it(case: Any) -> None:
        response = case.call(headers=bearer(token))
        if response.status_code == 503:  # a time limit or questions pending: documented
            return
        case.validate_response(response, checks=CHECKS)

    no_request_breaks_it()


def takes_input(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def corpus_pins(operation: Any) -> list[dict[str, dict[str, str]]]:
    """Free generation, and, where the corpus is a parameter, the real corpus: most generated
    names are of no corpus, so only the pinned runs reach the search, the ingest and the edits."""
    pins: list[dict[str, dict[str, str]]] = [{}]
    for parameter in operation.definition.raw.get("parameters", []):
        if parameter["name"] == "corpus":
            where = "path_parameters" if parameter["in"] == "path" else "query"
            pins.append({where: {"corpus": CORPUS}})
    return pins


# schemathesis's own pytest plugin (`from_fixture`) does not run on pytest 9, so each route's
# strategy is driven by Hypothesis directly.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_breaks_the_api(api_schema: Any, tokens: Tokens, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 17
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not takes_input(operation):
            continue  # nothing to make invalid
        for pinned in corpus_pins(operation) if mode is GenerationMode.POSITIVE else [{}]:
            check_operation(operation, mode, tokens.write, pinned)
