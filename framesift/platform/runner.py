"""Runs services: their consumers, one HTTP server and one gRPC server, until SIGTERM.

Shutdown order keeps at-least-once: stop taking requests (so uploads in flight finish and
publish), then stop consumers (the record in hand finishes and is committed), then the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import grpc
import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi_offline import FastAPIOffline
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from framesift.bus.base import Bus, Consumer, RecordHandler
from framesift.bus.delivery import RetryPolicy
from framesift.contracts.topics import DLQ_SUFFIX
from framesift.runtime import metrics
from framesift.runtime.settings import PlatformSettings
from framesift.ui import pages

from . import index, problems, read_access

log = logging.getLogger(__name__)


class PortInUseError(RuntimeError):
    """A port this process should serve on is taken (the message names the port and its setting)."""


def _bind(host: str, port: int, what: str, setting: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto
    # says TCP, and accepted connections inherit it; with proto 0 every keep-alive response waited
    # ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUseError(f"{what} port {host}:{port} is in use ({exc.strerror}; set {setting})") from exc
    return sock


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

ReadinessCheck = Callable[[], Awaitable[bool]]
GrpcRegistration = Callable[[grpc.aio.Server], str]  # adds a servicer, returns its full service name


@dataclass(frozen=True)
class ConsumerSpec:
    topics: list[str]
    group: str
    handler: RecordHandler


@dataclass
class ServiceUnit:
    """What one service contributes to a process; built by the service's bootstrap."""

    name: str
    consumers: list[ConsumerSpec] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)
    grpc_services: list[GrpcRegistration] = field(default_factory=list)
    readiness: list[ReadinessCheck] = field(default_factory=list)
    # Called once the consumers have stopped (shut a worker pool down, close a client); may be async.
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    # End of input (a finished batch run): act on what waits for more input (curate's open windows).
    flushers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    # Long-running jobs beside the consumers (curate closing windows of cameras that went quiet);
    # started once serving, cancelled at shutdown; one that fails stops the process like a consumer.
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Largest gRPC message this service needs to receive, when over the platform's default.
    grpc_max_message_bytes: int | None = None
    # Run once before anything consumes or serves; a failure fails the start (a resource another
    # process holds, say), instead of every record that would need it.
    starters: list[Callable[[], Awaitable[object]]] = field(default_factory=list)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None


def retry_policy(settings: PlatformSettings) -> RetryPolicy:
    return RetryPolicy(
        settings.max_attempts, settings.retry_backoff_s, settings.retry_backoff_max_s, settings.dlq_max_value_bytes
    )


def build_consumers(bus: Bus, units: Sequence[ServiceUnit], policy: RetryPolicy) -> list[Consumer]:
    """One group member per consumer spec of every unit."""
    return [
        bus.consumer(spec.topics, spec.group, spec.handler, service=unit.name, policy=policy)
        for unit in units
        for spec in unit.consumers
    ]


async def close_units(units: Sequence[ServiceUnit]) -> None:
    for unit in units:
        for close in unit.closers:
            result = close()
            if inspect.isawaitable(result):
                await result


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns SIGTERM and the shutdown order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ServiceRunner:
    def __init__(
        self,
        settings: PlatformSettings,
        bus: Bus,
        units: list[ServiceUnit],
        *,
        topics: list[str] | None = None,
        readiness: list[ReadinessCheck] | None = None,
    ) -> None:
        self._topics = topics or []
        self.settings = settings
        self.bus = bus
        self.units = units
        self._readiness_shared: list[ReadinessCheck] = [bus.ready, *(readiness or [])]
        self._readiness = [*self._readiness_shared, *(c for u in units for c in u.readiness)]
        self._policy = retry_policy(settings)
        self._grpc_max = max(
            [settings.grpc_max_message_bytes, *(u.grpc_max_message_bytes for u in units if u.grpc_max_message_bytes)]
        )
        self._stop = asyncio.Event()
        self.serving = asyncio.Event()
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self._grpc_names: list[str] = []
        self._grpc_names_of: dict[str, list[str]] = {}  # unit name -> its gRPC services' full names
        self._name = "+".join(u.name for u in units) or "framesift"

    def request_stop(self) -> None:
        self._stop.set()

    async def is_ready(self) -> bool:
        """Every check of every unit passes (what /readyz and the gRPC health of "" report)."""
        if not self.units:
            return not self._stop.is_set() and await self._passes(self._readiness_shared)
        return all((await self._readiness_now()).values())

    async def _readiness_now(self) -> dict[str, bool]:
        """Each unit's readiness: the process's own checks (the bus) and the unit's (its store, ...)."""
        if self._stop.is_set():
            return {unit.name: False for unit in self.units}
        shared = await self._passes(self._readiness_shared)
        return {unit.name: shared and await self._passes(unit.readiness) for unit in self.units}

    @staticmethod
    async def _passes(checks: Sequence[ReadinessCheck]) -> bool:
        for check in checks:
            try:
                if not await check():
                    return False
            except Exception:
                return False
        return True

    async def _publish_health(self, health_servicer: health.aio.HealthServicer, last: dict[str, int]) -> None:
        """gRPC health says what /readyz says, per service and for the whole server ("")."""
        ready = await self._readiness_now()
        whole = all(ready.values()) if ready else await self.is_ready()
        statuses = {"": SERVING if whole else NOT_SERVING}
        for unit, unit_ready in ready.items():
            for name in self._grpc_names_of.get(unit, []):
                statuses[name] = SERVING if unit_ready else NOT_SERVING
        for name, status in statuses.items():
            if last.get(name) != status:
                await health_servicer.set(name, status)
                last[name] = status
        metrics.READY.labels(self._name).set(1 if whole else 0)

    async def _measure_dead_letters(self) -> None:
        """framesift_dlq_depth for the dead-letter topic of every topic this process consumes."""
        topics = sorted(
            {
                topic + DLQ_SUFFIX
                for unit in self.units
                for spec in unit.consumers
                for topic in spec.topics
                if not topic.endswith(DLQ_SUFFIX)  # a reader of dead letters never dead-letters them
            }
        )
        # (A background job that returns would stop the process: this one runs until cancelled.)
        while True:
            for topic in topics:
                try:
                    metrics.DLQ_DEPTH.labels(topic).set(await self.bus.depth(topic))
                except Exception as exc:  # a metric must not stop the process; readiness reports outages
                    log.warning(
                        "could not measure a dead-letter topic", extra={"fields": {"topic": topic, "error": str(exc)}}
                    )
            await asyncio.sleep(self.settings.dlq_depth_interval_s)

    async def _follow_readiness(self, health_servicer: health.aio.HealthServicer, last: dict[str, int]) -> None:
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            await self._publish_health(health_servicer, last)

    def http_app(self) -> FastAPI:
        # The docs pages' assets come from the installed fastapi-offline package, not a CDN.
        app = FastAPIOffline(title="framesift", version="0.1.0")
        problems.install(app)
        read_access.install(app, _secret(self.settings.read_token), _secret(self.settings.operator_token))
        index.install(app, [unit.name for unit in self.units])
        pages.install(app)
        for unit in self.units:
            for router in unit.routers:
                app.include_router(router)

        @app.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/readyz", include_in_schema=False)
        async def readyz(response: Response) -> dict[str, str]:
            ready = await self.is_ready()
            response.status_code = 200 if ready else 503
            return {"status": "ready" if ready else "not ready"}

        @app.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        return app

    async def _grpc_server(self) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._grpc_max),
                ("grpc.max_send_message_length", self._grpc_max),
                # Without this, a second process would share a taken port silently (SO_REUSEPORT).
                ("grpc.so_reuseport", 0),
            ]
        )
        self._grpc_names_of = {unit.name: [register(server) for register in unit.grpc_services] for unit in self.units}
        names = [name for unit_names in self._grpc_names_of.values() for name in unit_names]
        self._grpc_names = names
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
        )
        address = f"{self.settings.http_host}:{self.settings.grpc_port}"
        if self.settings.grpc_port:  # grpc core would log its own error line first: check here
            _bind(self.settings.http_host, self.settings.grpc_port, "gRPC", "FRAMESIFT_GRPC_PORT").close()
        try:
            self.grpc_port = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio raises when the port is taken
            raise PortInUseError(f"gRPC port {address} is in use (set FRAMESIFT_GRPC_PORT)") from exc
        if not self.grpc_port:
            raise PortInUseError(f"gRPC port {address} is in use (set FRAMESIFT_GRPC_PORT)")
        await server.start()
        return server, health_servicer

    def _bind_http(self) -> socket.socket:
        """The HTTP socket, bound before anything starts, so a busy port is one clear error."""
        return _bind(self.settings.http_host, self.settings.http_port, "HTTP", "FRAMESIFT_HTTP_PORT")

    async def run(self, *, install_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        # Both ports first: a busy one fails the start before any consumer takes a record.
        http_socket = self._bind_http()
        grpc_server: grpc.aio.Server | None = None
        try:
            grpc_server, health_servicer = await self._grpc_server()
            for unit in self.units:
                for start in unit.starters:
                    await start()
            await self.bus.start()
            if self._topics:
                await self.bus.ensure_topics(self._topics)
        except BaseException:  # a start that fails leaves nothing behind: ports, servers, clients
            http_socket.close()
            if grpc_server is not None:
                await grpc_server.stop(grace=None)
            await close_units(self.units)
            await self.bus.stop()
            raise
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        consumers = build_consumers(self.bus, self.units, self._policy)
        consumer_tasks = [asyncio.create_task(c.run(), name=f"consumer-{i}") for i, c in enumerate(consumers)]
        http = _Server(
            uvicorn.Config(
                self.http_app(),
                host=self.settings.http_host,
                port=self.settings.http_port,
                log_config=None,
                lifespan="off",
                timeout_graceful_shutdown=self.settings.shutdown_timeout_s,
            )
        )
        http_task = asyncio.create_task(http.serve(sockets=[http_socket]), name="http")
        failure: BaseException | None = None
        background: list[asyncio.Task] = []
        try:
            await self._wait_started(http, http_task)
            # The whole server ("") and each service by name, as gRPC health clients ask; then
            # followed for as long as the process serves (a dependency down: NOT_SERVING).
            published: dict[str, int] = {}
            await self._publish_health(health_servicer, published)
            health_task = asyncio.create_task(self._follow_readiness(health_servicer, published), name="health")
            self.serving.set()
            log.info(
                "serving",
                extra={
                    "fields": {
                        "http_port": self.http_port,
                        "grpc_port": self.grpc_port,
                        "services": [u.name for u in self.units],
                    }
                },
            )
            background = [
                health_task,
                *([asyncio.create_task(self._measure_dead_letters(), name="dlq-depth")] if self.units else []),
                *(
                    asyncio.create_task(job(), name=f"{unit.name}-background-{i}")
                    for unit in self.units
                    for i, job in enumerate(unit.background)
                ),
            ]
            failure = await self._wait_for_stop_or_failure([http_task, *consumer_tasks, *background])
        finally:
            self._stop.set()  # /readyz answers 503 from now on
            metrics.READY.labels(self._name).set(0)
            await health_servicer.enter_graceful_shutdown()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            # A failure is not a drain: leave within fatal_exit_s (uncommitted records are redelivered
            # to the next member); SIGTERM lets in-flight work finish for up to shutdown_timeout_s.
            budget = self.settings.fatal_exit_s if failure is not None else self.settings.shutdown_timeout_s
            http.should_exit = True
            http.force_exit = failure is not None
            await grpc_server.stop(grace=min(10.0, budget))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(http_task, timeout=budget)
            for consumer in consumers:
                await consumer.stop()
            if consumer_tasks:
                _, stuck = await asyncio.wait(consumer_tasks, timeout=budget)
                for task in stuck:
                    log.warning(
                        "a consumer did not stop in time; abandoning it", extra={"fields": {"task": task.get_name()}}
                    )
                    task.cancel()
            results = await asyncio.gather(*consumer_tasks, return_exceptions=True)
            results = [r for r in results if not isinstance(r, asyncio.CancelledError)]
            await close_units(self.units)
            await self.bus.stop()
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            log.info("stopped", extra={"fields": {"services": [u.name for u in self.units]}})
        failure = failure or next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise RuntimeError(f"{self._name} stopped on a failure: {failure}") from failure

    async def _wait_started(self, http: _Server, http_task: asyncio.Task) -> None:
        while not http.started:
            if http_task.done():
                http_task.result()
                raise RuntimeError(f"HTTP server did not start on {self.settings.http_port}")
            await asyncio.sleep(0.01)  # uvicorn exposes no started event; poll its flag
        self.http_port = http.servers[0].sockets[0].getsockname()[1]

    async def _wait_for_stop_or_failure(self, tasks: list[asyncio.Task]) -> BaseException | None:
        stop_task = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait([stop_task, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        for task in done:
            if task is not stop_task and task.exception() is not None:
                log.error(
                    "a task failed; stopping", extra={"fields": {"task": task.get_name()}}, exc_info=task.exception()
                )
                return task.exception()
        return None
