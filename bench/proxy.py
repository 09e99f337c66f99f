"""A TCP relay that delays every chunk, for sending to a relay that is not on loopback.

    python bench/proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS

It forwards 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT and holds each chunk
DELAY_MS milliseconds in each direction (so twice that per round trip), in order,
as a network link would. It prints ``ready`` once it listens and runs until killed.
Each direction of each connection has a reader thread, which stamps what it reads,
and a writer thread, which sends it once its time has come; ``time.sleep`` keeps
the delay to within a fraction of a millisecond, which an event loop's timer would not.
"""

import queue
import socket
import sys
import threading
import time


def _nodelay(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read(source: socket.socket, line: queue.SimpleQueue) -> None:
    try:
        while chunk := source.recv(1 << 16):
            line.put((time.monotonic(), chunk))
    except OSError:
        pass
    line.put((time.monotonic(), b""))


def _write(target: socket.socket, line: queue.SimpleQueue, delay: float) -> None:
    while True:
        stamp, chunk = line.get()
        wait = stamp + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if not chunk:
            break
        try:
            target.sendall(chunk)
        except OSError:
            break
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _relay(client: socket.socket, upstream: tuple[str, int], delay: float) -> None:
    try:
        server = _nodelay(socket.create_connection(upstream))
    except OSError:
        client.close()
        return
    threads = []
    for source, target in ((_nodelay(client), server), (server, client)):
        line: queue.SimpleQueue = queue.SimpleQueue()
        threads += [
            threading.Thread(target=_read, args=(source, line), daemon=True),
            threading.Thread(target=_write, args=(target, line, delay), daemon=True),
        ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    server.close()


def serve(port: int, upstream_port: int, delay: float) -> None:
    listener = socket.create_server(("127.0.0.1", port), backlog=256)
    print("ready", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(
            target=_relay, args=(client, ("127.0.0.1", upstream_port), delay), daemon=True
        ).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000)
