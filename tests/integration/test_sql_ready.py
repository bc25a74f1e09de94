"""The SQL readiness check: a database that answers is ready; one that does not is not (and the
check says so instead of raising)."""

from __future__ import annotations

import socket

from framesift.sql.engine import make_engine, sql_ready


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_ready_when_the_database_answers_and_not_when_it_is_down(tmp_path) -> None:
    up = make_engine(f"sqlite:///{tmp_path / 'ready.db'}")
    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test?connect_timeout=2")
    try:
        assert await sql_ready(up)
        assert not await sql_ready(down)
    finally:
        up.dispose()
        down.dispose()
