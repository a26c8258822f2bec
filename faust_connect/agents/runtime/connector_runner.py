"""A connector's own instance, run on the worker its placement partition is on (Kafka
Connect's ``WorkerConnector``).

The instance is built from the connector's config and started; it stops when the connector is
deleted, stopped, reconfigured, restarted or moves to another worker. A failure it raises, in
``start`` or later through ``context.raise_error``, fails the connector alone: its status says
FAILED with the trace until a restart runs a new instance. Its tasks run on regardless, as in
Kafka Connect.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Mapping

from faust_connect.connector import Connector

__all__ = ["ConnectorRunner"]

logger = logging.getLogger(__name__)

#: ``report(state, trace)``: write the connector's status.
Report = Callable[[str, str], None]


class ConnectorRunner:
    """Starts, watches and stops one connector instance."""

    def __init__(
        self,
        name: str,
        config: Mapping[str, str],
        version: tuple[int, int],
        report: Report,
        *,
        resolve: Callable[[str], type[Connector]],
    ) -> None:
        self.connector = name
        self.logger = logging.getLogger(f"faust_connect.connector.{name}")
        #: ``(config generation, restarts)``: a new one means a new instance.
        self.version = version
        self.failed: BaseException | None = None
        self._config, self._report, self._resolve = dict(config), report, resolve
        self._instance: Connector | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Build the instance and start it, in the background."""
        self._task = asyncio.create_task(self._start(), name=f"connector-{self.connector}")

    async def _start(self) -> None:
        try:
            instance = self._resolve(self._config["connector.class"])(self._config)
            instance.context = self
            self._instance = instance
            await instance.start()
        except Exception as exc:
            self.raise_error(exc)

    def raise_error(self, error: BaseException) -> None:
        """The connector failed: FAILED with the trace, until a restart."""
        if self.failed is not None:
            return
        self.failed = error
        self.logger.error("connector %s failed", self.connector, exc_info=error)
        self._report("FAILED", "".join(traceback.format_exception(error)))

    def state(self) -> str:
        """RUNNING, or FAILED once the connector raised."""
        return "RUNNING" if self.failed is None else "FAILED"

    def trace(self) -> str:
        """The failure's trace, or ``""``."""
        return "".join(traceback.format_exception(self.failed)) if self.failed else ""

    async def stop(self, timeout: float) -> None:
        """Stop the instance (its ``stop`` gets ``timeout`` seconds)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._instance is None:
            return
        instance, self._instance = self._instance, None
        try:
            await asyncio.wait_for(instance.stop(), timeout)
        except Exception:  # stopping anyway: say so, nothing else depends on it
            self.logger.warning("connector %s did not stop cleanly", self.connector, exc_info=True)
