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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiokafka import AIOKafkaProducer

from faust_connect.agents.runtime.error_policy import ErrorHandler, Raw, Stage, ToleranceExceeded
from faust_connect.agents.runtime.providers import resolve_providers
from faust_connect.agents.runtime.task_metrics import TaskMetrics
from faust_connect.codecs import CodecError, Converter, converter_from_config
from faust_connect.codecs.base import ConverterPrefix
from faust_connect.records import ConnectRecord
from faust_connect.transforms import Chain, chain_from_config

if TYPE_CHECKING:
    from faust_connect.agents.runtime.services import Services

__all__ = ["TaskRunner"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=ConnectRecord)


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
        self.metrics = TaskMetrics(connector, task_id, self.kind)
        self.errors = ErrorHandler(
            self.config,
            connector=connector,
            task_id=task_id,
            metrics=self.metrics,
            logger=self.logger,
            producer_factory=self.new_producer,
            ensure_topic=services.ensure_topic,
        )
        self.key_converter = self._converter("key.converter")
        self.value_converter = self._converter("value.converter")
        self.header_converter = self._converter("header.converter")
        configured = chain_from_config(config)
        self.chain: Chain = chain | configured if chain is not None else configured

    def new_producer(self) -> AIOKafkaProducer:
        """A producer with the worker's ``producer.*`` and the connector's overrides."""
        return self.services.clients.producer(self.config)

    async def transform(
        self, records: Sequence[R], raw_of: Callable[[R], Raw | None] | None = None
    ) -> list[R]:
        """``records`` through the transform chain; a record that fails goes to ``errors``."""
        dropped: list[tuple[Any, Exception]] = []
        survivors = self.chain.apply_batch(records, on_error=lambda r, e: dropped.append((r, e)))
        for record, error in dropped:
            raw = raw_of(record) if raw_of is not None else None
            await self.errors.failed("TRANSFORMATION", error, raw=raw, record=record)
        return survivors

    async def converter_failed(
        self,
        stage: Stage,
        converter: Converter,
        error: Exception,
        *,
        raw: Raw | None = None,
        record: ConnectRecord | None = None,
    ) -> None:
        """A converter failed on one record: name the converter and the record's place."""
        if not isinstance(error, CodecError):  # a converter bug: still name the converter
            error = CodecError(type(converter).__name__, repr(error))
        topic = raw.topic if raw is not None else record.topic if record is not None else None
        placed = error.with_context(
            topic=topic,
            partition=raw.partition if raw is not None else None,
            offset=raw.offset if raw is not None else None,
            stage=stage,
        )
        await self.errors.failed(
            stage, placed, raw=raw, record=record, plugin=type(converter).__name__
        )

    def _converter(self, prefix: ConverterPrefix) -> Converter:
        defaults = self.services.converter_defaults
        source = self.config if self.config.get(prefix) else defaults
        url = source.get(f"{prefix}.schema.registry.url", "")
        registry = self.services.registry_client(url) if url else None
        return converter_from_config(self.config, prefix, defaults, schema_registry=registry)

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
        self._report("PAUSED" if self.paused else "RUNNING")
        self._task = asyncio.create_task(self._main(), name=f"{self.connector}-{self.task_id}")

    async def _main(self) -> None:
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

    async def stop(self, timeout: float) -> None:
        """Ask the task to finish (commit what is done, release resources) within ``timeout``."""
        self._stopping.set()
        self._resumed.set()  # wake a paused loop so it can see the stop
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
