"""What every task runner shares: lifecycle, pause, failure and status reporting.

A runner runs one task of one connector on this worker. The runtime starts it when this worker
owns the task's placement partition, pauses and resumes it with the connector's target state,
and stops it when the task moves, is reconfigured or deleted. A task that raises goes FAILED
with its trace and stays so until restarted; other tasks go on.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer

from faust_connect.agents.runtime import task_output
from faust_connect.agents.runtime.error_policy import KafkaDeadLetters, ToleranceExceeded
from faust_connect.agents.runtime.pipeline import Pipeline
from faust_connect.agents.runtime.providers import resolve_providers
from faust_connect.agents.runtime.task_metrics import TaskMetrics
from faust_connect.config import ConnectorConfig, parse_config
from faust_connect.transforms import Chain

if TYPE_CHECKING:
    from faust_connect.agents.runtime.services import Services

__all__ = ["TaskRunner"]

logger = logging.getLogger(__name__)


class TaskRunner(ABC):
    """Runs one task; subclasses implement :meth:`run`."""

    #: ``"source"`` or ``"sink"``.
    kind: str

    def __init__(
        self,
        services: Services,
        connector: str,
        task_id: int,
        config: Mapping[str, str],
        task_config: Mapping[str, str],
        *,
        generation: int,
        paused: bool,
        chain: Chain | None = None,
    ) -> None:
        self.services = services
        self.connector = connector
        self.task_id = task_id
        #: The connector's config (converters, transforms, errors, topics are read from it),
        #: with ``${env:...}``/``${file:...}`` references resolved.
        self.config = resolve_providers(config)
        #: The task's own config, as the connector's ``task_configs`` gave it, resolved.
        self.task_config = resolve_providers(task_config)
        self.generation = generation
        self.logger = logging.getLogger(f"faust_connect.task.{connector}.{task_id}")
        self._resumed = asyncio.Event()
        if not paused:
            self._resumed.set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None
        #: Whether a newer owner of this task fenced this copy (exactly-once sources): it
        #: stopped, and runs again only if this worker is given the task anew.
        self.fenced = False
        self.metrics = TaskMetrics(connector, task_id, self.kind)
        #: The connector's common keys, parsed.
        self.settings = parse_config(ConnectorConfig, self.config)
        dead_letters = KafkaDeadLetters(
            replication_factor=self.settings.errors_deadletterqueue_topic_replication_factor,
            producer_factory=self.new_producer,
            ensure_topic=services.ensure_topic,
        )
        #: Converters, transforms and the error policy: the record path minus Kafka.
        self.pipeline = Pipeline(
            self.config,
            self.settings,
            connector=connector,
            task_id=task_id,
            metrics=self.metrics,
            logger=self.logger,
            dead_letters=dead_letters,
            converter_defaults=services.converter_defaults,
            registry_client=services.registry_client,
            chain=chain,
        )
        self.errors = self.pipeline.errors

    def new_producer(self) -> AIOKafkaProducer:
        """A producer with the worker's ``producer.*`` and the connector's overrides."""
        return self.services.clients.producer(self.config)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether the connector is paused."""
        return not self._resumed.is_set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    def start(self) -> None:
        """Start running the task in the background."""
        task_output.install()
        self._report("PAUSED" if self.paused else "RUNNING")
        self._task = asyncio.create_task(self._main(), name=f"{self.connector}-{self.task_id}")

    async def _main(self) -> None:
        task_output.task_logger.set(self.logger)  # what the task prints goes to its log
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """Mark the task FAILED with the exception's trace."""
        self.failed = exc
        if not isinstance(exc, ToleranceExceeded):  # those were counted as the record failed
            self.metrics.errors += 1
        trace = "".join(traceback.format_exception(exc))
        self.logger.error("task %s-%d failed: %r", self.connector, self.task_id, exc)
        self._report("FAILED", trace)

    def halt(self) -> None:
        """Stop taking work at once: what is polled or fetched from now on is not sent or put
        (its offsets are not stored, so the task's next run reads it again)."""
        self._stopping.set()
        self._resumed.set()  # wake a paused loop so it can see the stop

    async def stop(self, timeout: float) -> None:
        """Ask the task to finish (commit what is done, release resources) within ``timeout``."""
        self.halt()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self.logger.warning(
                "task %s-%d did not stop in %.1fs", self.connector, self.task_id, timeout
            )
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        except Exception:  # already reported as FAILED by _main
            pass

    def pause(self) -> None:
        """Stop polling or consuming until :meth:`resume` (already running work completes)."""
        if not self.paused:
            self._resumed.clear()
            if self.failed is None:
                self._report("PAUSED")

    def resume(self) -> None:
        """Carry on after :meth:`pause`."""
        if self.paused:
            self._resumed.set()
            if self.failed is None:
                self._report("RUNNING")

    async def wait_resumed(self) -> None:
        """Return once the task is not paused (or is stopping)."""
        await self._resumed.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the task is asked to stop."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def _report(self, state: Any, trace: str = "") -> None:
        self.services.report(self.connector, self.task_id, state, trace, self.generation)

    @abstractmethod
    async def run(self) -> None:
        """Do the work until :attr:`stopping`; raise to fail the task."""
