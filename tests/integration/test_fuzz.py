"""The REST API fuzzed from the OpenAPI description the worker serves (schemathesis).

Every generated request, well-formed or not, must get an answer below 500; afterwards the worker
still runs and is healthy, and a secret stored in a connector's config never shows in an answer
or in the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import Broker
from tests.workers import Worker, WorkerFactory, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECRET = "fuzz-s3cret-do-not-show"
#: Generated requests per operation (25 operations).
EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzzed(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    factory = WorkerFactory(tmp_path_factory.mktemp("fuzz"))
    worker = factory.start("tests.apps.worker", bootstrap=broker.bootstrap)
    worker.rest.create(
        "seeded",
        {
            "connector.class": "FileStreamSink",
            "topics": "fuzz-in",
            "file": "/dev/null",
            "connection.password": SECRET,
        },
    )
    wait_until(lambda: worker.rest.call("GET", "/health")[0] == 200, what="a healthy worker")
    yield worker
    factory.stop_all()


def test_no_request_gets_a_server_error(fuzzed: Worker) -> None:
    api = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same requests on every run (CI is reproducible)
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(base_url=fuzzed.url, timeout=30)
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            assert response.status_code < 500, f"{where}: {response.text[:300]}"
            assert SECRET not in response.text, where
            if response.status_code >= 400 and response.text:
                body = response.json()
                assert set(body) == {"error_code", "message"}, f"{where}: {body}"

        call()


def test_the_fuzzed_worker_still_serves_and_kept_the_secret(fuzzed: Worker) -> None:
    assert fuzzed.process.poll() is None, "the worker exited"
    assert fuzzed.rest.call("GET", "/health")[0] == 200
    assert "seeded" in fuzzed.rest.get("/connectors")
    assert SECRET not in fuzzed.log()
