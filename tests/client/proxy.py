"""A TCP relay between the ``podium`` command and the live server that can break the
connection the way a network does: hold a request back for good (a hang, ended by Ctrl-C),
or drop the connection at a request (a reset). Everything else passes byte for byte."""

import socket
import threading


class Proxy:
    """Relays 127.0.0.1:<port> to ``target``. :meth:`hold_at` and :meth:`cut_at` act at the
    n-th request, counted from the call, whose bytes start with ``marker``."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.marker, self.left, self.action = b"", 0, None
        self.held = threading.Event()
        self.cut = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold_at(self, marker: bytes, n: int) -> None:
        self._arm(marker, n, "hold")

    def cut_at(self, marker: bytes, n: int) -> None:
        self._arm(marker, n, "cut")

    def _arm(self, marker: bytes, n: int, action: str) -> None:
        with self.lock:
            self.marker, self.left, self.action = marker, n, action
            self.held.clear()
            self.cut.clear()

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            threading.Thread(target=self._upstream, args=(client, server), daemon=True).start()
            threading.Thread(target=self._relay, args=(server, client), daemon=True).start()

    def _triggered(self, data: bytes) -> tuple[str | None, int]:
        """(the action, where in ``data`` its request starts) once the n-th one arrives."""
        with self.lock:
            if self.action is None:
                return None, 0
            start = 0
            while (found := data.find(self.marker, start)) >= 0:
                self.left -= 1
                if self.left == 0:
                    action, self.action = self.action, None
                    return action, found
                start = found + 1
            return None, 0

    def _upstream(self, client: socket.socket, server: socket.socket) -> None:
        """Client → server, watching for the request to act on."""
        try:
            while data := client.recv(65536):
                action, at = self._triggered(data)
                if action is None:
                    server.sendall(data)
                    continue
                server.sendall(data[:at])
                if action == "cut":
                    self.cut.set()
                    break
                self.held.set()
                while client.recv(65536):  # held: what follows never reaches the server
                    pass
                break
        except OSError:
            pass
        for sock in (client, server):
            self._close(sock)

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            self._close(sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
