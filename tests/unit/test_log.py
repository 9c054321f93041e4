"""Log records to window/logMessage: levels, and never a failure when the client is gone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import pytest
from lsprotocol import types

from paramlens.log import ClientLogHandler, get_logger, message_type


@pytest.mark.parametrize(
    ("level", "kind"),
    [
        (logging.DEBUG, types.MessageType.Log),
        (logging.INFO, types.MessageType.Info),
        (logging.WARNING, types.MessageType.Warning),
        (logging.ERROR, types.MessageType.Error),
        (logging.CRITICAL, types.MessageType.Error),
        (5, types.MessageType.Log),
    ],
)
def test_levels(level: int, kind: types.MessageType) -> None:
    assert message_type(level) == kind


class FakeServer:
    def __init__(self, error: Optional[Exception] = None) -> None:
        self.sent: list[types.LogMessageParams] = []
        self.error = error

    def window_log_message(self, params: types.LogMessageParams) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(params)


async def test_records_reach_the_client_once_attached() -> None:
    server: Any = FakeServer()
    handler = ClientLogHandler(server)
    logger = get_logger("test-log")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("before attach")
        handler.attach(asyncio.get_running_loop())
        logger.info("after attach")
        logger.debug("below the handler's level")
    finally:
        logger.removeHandler(handler)
    assert [p.message for p in server.sent] == ["paramlens.test-log: after attach"]


@pytest.mark.parametrize("error", [ValueError("closed file"), BrokenPipeError(), RuntimeError()])
async def test_a_gone_client_never_breaks_logging(error: Exception) -> None:
    server: Any = FakeServer(error)
    handler = ClientLogHandler(server)
    handler.attach(asyncio.get_running_loop())
    record = logging.LogRecord("paramlens", logging.WARNING, __file__, 1, "lost", None, None)
    handler.emit(record)  # must not raise
