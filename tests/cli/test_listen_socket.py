"""The listening socket ``retrainer serve`` and ``retrainer webhook`` hand to uvicorn."""

from __future__ import annotations

import socket

from retrainer.cli._common import listen_socket


def test_connections_are_tcp_with_nagle_off_so_small_answers_do_not_wait_for_an_ack():
    # given the socket the commands listen on
    server = listen_socket("127.0.0.1", 0)
    try:
        client = socket.create_connection(server.getsockname(), timeout=5)
        accepted, _ = server.accept()
        # then asyncio sees a TCP socket (it disables Nagle only on those), and the
        # accepted connection already has TCP_NODELAY (~40 ms per answer without it)
        assert server.proto == socket.IPPROTO_TCP
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        accepted.close()
        client.close()
    finally:
        server.close()
