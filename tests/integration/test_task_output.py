"""What a connector's task prints lands in the worker's log at INFO, named by the task."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import Broker
from tests.kafka import produce
from tests.workers import WorkerFactory

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_print_in_a_task_goes_to_the_tasks_logger(broker: Broker, workers: WorkerFactory) -> None:
    worker = workers.start("tests.apps.worker", bootstrap=broker.bootstrap)
    topic = f"chatty-{uuid.uuid4().hex[:8]}"
    worker.rest.create("talker", {"connector.class": "ChattySource"})
    worker.rest.create(
        "listener",
        {
            "connector.class": "ChattySink",
            "topics": topic,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        },
    )
    asyncio.run(produce(broker.bootstrap, topic, [(None, b"ping")]))
    worker.wait_for_log("[INFO] talker-0: hello from poll")
    worker.wait_for_log("[INFO] talker-0: hello from a thread")
    worker.wait_for_log("[INFO] listener-0: put ping", timeout=60)
    log = worker.log()
    assert "[WARNING] hello from poll" not in log
    assert "[WARNING] put ping" not in log
