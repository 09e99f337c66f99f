"""A TCP proxy the tests control, between the app and PostgreSQL or Redis.

``cut()`` drops every open connection at once, as a restart of the service
does; ``refuse()`` makes new connections fail until ``resume()``.
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
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
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
