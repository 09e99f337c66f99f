"""A TCP proxy the tests control, between the app and PostgreSQL or Redis.

``cut()`` drops every open connection at once, as a restart of the service
does; ``refuse()`` makes new connections fail until ``resume()``.
``client_turns()`` counts how often a client spoke after the server had: its
round trips.
"""

import socket
import threading

from tests.support.mail import free_port


class Proxy:
    """Forwards 127.0.0.1:<port> to an upstream address, until told otherwise."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.refusing = False
        self.connections: list[socket.socket] = []
        self.spoke: list[tuple[int, str]] = []  # (connection number, "client" or "server")
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, server]
                number = len(self.connections)
            for source, target, who in ((client, server, "client"), (server, client, "server")):
                threading.Thread(
                    target=self._pump, args=(source, target, (number, who)), daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket, speaker) -> None:
        try:
            while data := source.recv(65536):
                # Noted before it is passed on: whatever answers it is noted after it.
                with self.lock:
                    self.spoke.append(speaker)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def client_turns(self) -> int:
        """How many times, over all connections, the client sent after the server had sent
        (or first): one per round trip, however many writes each turn took."""
        with self.lock:
            spoke = list(self.spoke)
        last: dict[int, str] = {}
        turns = 0
        for number, who in spoke:
            turns += who == "client" and last.get(number) != "client"
            last[number] = who
        return turns

    def cut(self) -> None:
        """Drop every connection now open (new ones still get through)."""
        with self.lock:
            connections, self.connections = self.connections, []
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def refuse(self) -> None:
        """Drop every connection and turn new ones away, as a service that is down."""
        self.refusing = True
        self.cut()

    def resume(self) -> None:
        """Let connections through again."""
        self.refusing = False

    def close(self) -> None:
        """Stop proxying."""
        self.running = False
        self.thread.join(timeout=2)
        self.listener.close()
        self.cut()
