"""Logging of the language server: stderr always, ``window/logMessage`` once a client listens.

stdout carries the protocol, so nothing here (or anywhere in the server) writes to it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TYPE_CHECKING, Optional

from lsprotocol import types

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

LOGGER_NAME = "paramlens"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_LSP_LEVELS = {
    logging.CRITICAL: types.MessageType.Error,
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Log,
}


def message_type(level: int) -> types.MessageType:
    """The ``window/logMessage`` type of a logging level."""
    for threshold in sorted(_LSP_LEVELS, reverse=True):
        if level >= threshold:
            return _LSP_LEVELS[threshold]
    return types.MessageType.Log


class ClientLogHandler(logging.Handler):
    """Forwards records to the client as ``window/logMessage``, from any thread.

    Records are sent on the server's event loop; a record logged while sending is dropped
    rather than recursing.
    """

    def __init__(self, server: LanguageServer, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.server = server
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._sending = threading.local()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start forwarding; records before this only go to stderr."""
        self.loop = loop

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record (dropped before :meth:`attach` or while already sending)."""
        if self.loop is None or self.loop.is_closed() or getattr(self._sending, "active", False):
            return
        try:
            text = self.format(record)
        except (TypeError, ValueError):
            return
        params = types.LogMessageParams(type=message_type(record.levelno), message=text)
        try:
            running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._send(params)
        else:
            self.loop.call_soon_threadsafe(self._send, params)

    def _send(self, params: types.LogMessageParams) -> None:
        self._sending.active = True
        try:
            self.server.window_log_message(params)
        except (OSError, RuntimeError, AttributeError, ValueError):
            pass  # no writer yet or the client is gone: stderr still has the record
        finally:
            self._sending.active = False


def setup_logging(level: int = logging.INFO) -> logging.Logger:
    """Send the server's records (and pygls' warnings) to stderr; idempotent."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "paramlens_stderr", False) for h in logging.getLogger().handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.paramlens_stderr = True  # type: ignore[attr-defined]
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)
    return logger


def get_logger(name: str) -> logging.Logger:
    """A child logger of ``paramlens`` (``paramlens.workers``, ``paramlens.features.hover``)."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
