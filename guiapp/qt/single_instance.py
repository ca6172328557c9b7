"""One window per user: ``triage FILE`` while a window is open hands FILE to that window.

The running window listens on a local socket (``QLocalServer``: a Unix domain socket, a
named pipe on Windows) whose name is derived from the user's data directory, so two users,
or a test with its own ``TRIAGE_DATA_DIR``, never reach each other's window. A new
``triage`` first tries to connect: if a window answers, it sends the paths (made absolute:
the window has another working directory) and exits; if nobody answers, it becomes the
window and starts listening.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from guiapp.core.paths import user_data_dir

#: How long a new ``triage`` waits for a running window to take its files.
HAND_OVER_MS = 5000
_OK = b"ok\n"
_MAX_MESSAGE = 1 << 20


def server_name() -> str:
    """The socket name of this user's window (a hash of the data directory's path)."""
    folder = str(user_data_dir().resolve())
    digest = hashlib.sha256(folder.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"triage-{digest}"


def hand_over(paths: list[str], *, timeout_ms: int = HAND_OVER_MS) -> bool:
    """Give ``paths`` to the window already running for this user; False when there is
    none (or it does not answer in time), and this process should open its own."""
    socket = QLocalSocket()
    socket.connectToServer(server_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    message = json.dumps({"paths": [os.path.abspath(p) for p in paths]}).encode() + b"\n"
    socket.write(message)
    socket.waitForBytesWritten(timeout_ms)
    reply = b""
    while not reply.endswith(b"\n") and socket.waitForReadyRead(timeout_ms):
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply == _OK


class InstanceServer(QObject):
    """Listens for later ``triage`` runs of this user and emits what they want opened."""

    paths_received = Signal(list)  # absolute paths (may be empty: just show the window)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_server_new_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Start listening; a socket left by a window that was killed is taken over (only
        called once :func:`hand_over` found nobody answering on it)."""
        name = server_name()
        if self.server.listen(name):
            return True
        QLocalServer.removeServer(name)
        return self.server.listen(name)

    def close(self) -> None:
        self.server.close()

    def _on_server_new_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_socket_ready_read(s))
            socket.disconnected.connect(lambda s=socket: self._drop(s))

    def _drop(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(data) > _MAX_MESSAGE:
            socket.abort()
            return
        self._buffers[socket] = data
        if not data.endswith(b"\n"):
            return
        try:
            message = json.loads(data)
            paths = [str(Path(p)) for p in message["paths"] if isinstance(p, str)]
        except (ValueError, KeyError, TypeError):
            socket.abort()
            return
        socket.write(_OK)
        socket.flush()
        self.paths_received.emit(paths)
