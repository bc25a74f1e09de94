"""The HTTP port's socket: connections on it send small responses at once (Nagle off)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from framesift.platform.runner import PortInUseError, _bind


async def test_connections_accepted_on_the_http_socket_have_nagle_off() -> None:
    listening = _bind("127.0.0.1", 0, "HTTP", "FRAMESIFT_HTTP_PORT")
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = writer.get_extra_info("socket")
        seen.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listening)
    port = listening.getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # asyncio sets TCP_NODELAY only where the socket says TCP; without it every keep-alive
        # response waits for the client's delayed ACK (~40 ms a request).
        assert await asyncio.wait_for(seen, timeout=10) != 0
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_a_taken_port_names_its_setting() -> None:
    taken = _bind("127.0.0.1", 0, "HTTP", "FRAMESIFT_HTTP_PORT")
    taken.listen()
    try:
        with pytest.raises(PortInUseError, match="FRAMESIFT_HTTP_PORT"):
            _bind("127.0.0.1", taken.getsockname()[1], "HTTP", "FRAMESIFT_HTTP_PORT")
    finally:
        taken.close()
