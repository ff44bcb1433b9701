"""Hostile HTTP servers on a raw socket, for what ``StubServer`` cannot do: answers that
drip a byte at a time, and bodies that never end.

Each binds 127.0.0.1 only, answers every connection in its own thread, and stops on exit
of the ``with`` block or by itself after ``lifetime`` seconds, whichever comes first.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

#: A head that says 200 with a JSON body of ``Content-Length`` bytes.
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


@dataclass
class RawServer:
    """What a raw server saw: its URL, how many connections, how many bytes it sent, and
    how many answers are over (the client gone, the answer sent, or the server stopped)."""

    url: str
    stop: threading.Event
    connections: int = 0
    sent: int = 0
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def wait_answered(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` answers are over; False when ``timeout`` (a hang guard)
        passes first."""
        with self.changed:
            return self.changed.wait_for(lambda: self.answered >= count, timeout)

    def send(self, conn: socket.socket, data: bytes) -> bool:
        """Send ``data``; False once the client has gone or the server stops."""
        if self.stop.is_set():
            return False
        try:
            conn.sendall(data)
        except OSError:
            return False
        with self.lock:
            self.sent += len(data)
        return True


Answer = Callable[[RawServer, socket.socket], None]


@contextlib.contextmanager
def raw_server(answer: Answer, lifetime: float = 30.0) -> Iterator[RawServer]:
    """A server that reads each request's head, then lets ``answer`` write to the socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    server = RawServer(f"http://127.0.0.1:{listener.getsockname()[1]}", threading.Event())
    conns: list[socket.socket] = []

    def handle(conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(2.0)
                head = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        data = conn.recv(4096)
                        if not data:
                            return
                        head += data
                answer(server, conn)
        finally:
            with server.changed:
                server.answered += 1
                server.changed.notify_all()

    def accept() -> None:
        while not server.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with server.lock:
                server.connections += 1
            conns.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    timer = threading.Timer(lifetime, server.stop.set)
    timer.daemon = True
    thread.start()
    timer.start()
    try:
        yield server
    finally:
        server.stop.set()
        timer.cancel()
        thread.join(1)
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def drip(data: bytes, every: float, *, first: bytes = b"") -> Answer:
    """Send ``first`` at once, then ``data`` one byte every ``every`` seconds (slowloris)."""

    def answer(server: RawServer, conn: socket.socket) -> None:
        if first and not server.send(conn, first):
            return
        for i in range(len(data)):
            if not server.send(conn, data[i : i + 1]):
                return
            time.sleep(every)

    return answer


def endless(head: bytes, chunk: int = 64 * 1024, limit: int = 256 * 1024 * 1024) -> Answer:
    """Send ``head``, then a body that never ends (up to ``limit`` bytes, as a safety stop)."""

    def answer(server: RawServer, conn: socket.socket) -> None:
        if not server.send(conn, head):
            return
        block = b"x" * chunk
        for _ in range(limit // chunk):
            if not server.send(conn, block):
                return

    return answer


def head_then_silence(head: bytes) -> Answer:
    """Send ``head`` at once, then nothing until the server stops."""

    def answer(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, head)
        server.stop.wait()

    return answer
