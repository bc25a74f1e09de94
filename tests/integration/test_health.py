"""gRPC health follows readiness, per service, exactly as /readyz does: a real broker stopped makes
the pod NOT_SERVING, started again SERVING, without a restart of the service."""

from __future__ import annotations

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from framesift.app.registry import build_adapters
from framesift.runtime.settings import BusKind
from tests.support.running import running
from tests.support.servers import TansuBroker
from tests.support.waiting import eventually

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
INGEST = "framesift.v1.IngestService"


async def test_grpc_health_follows_the_broker_down_and_up_again(embedded_settings, tmp_path) -> None:
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    settings = embedded_settings.model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap_servers": broker.bootstrap,
            "kafka_idempotence": False,
            "kafka_request_timeout_ms": 1500,
            "health_interval_s": 0.1,
        }
    )
    adapters = build_adapters(settings, services=["ingest"])
    try:
        async with running(adapters, ["ingest"]) as runner:
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}")
            stub = health_pb2_grpc.HealthStub(channel)
            http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}")

            async def state() -> tuple[int, int, int]:
                whole = await stub.Check(health_pb2.HealthCheckRequest(service=""))
                ingest = await stub.Check(health_pb2.HealthCheckRequest(service=INGEST))
                return whole.status, ingest.status, (await http.get("/readyz")).status_code

            try:
                assert await state() == (SERVING, SERVING, 200)
                broker.stop()
                await eventually(lambda: _is(state(), (NOT_SERVING, NOT_SERVING, 503)), timeout=30, what="NOT_SERVING")
                broker.start()  # same port
                await eventually(lambda: _is(state(), (SERVING, SERVING, 200)), timeout=60, what="SERVING again")
            finally:
                await http.aclose()
                await channel.close()
    finally:
        broker.stop()
        adapters.close()


async def _is(pending, expected) -> bool:
    return await pending == expected
