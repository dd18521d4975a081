"""Former home of the codec, kept so existing imports work: everything here is
:mod:`e2ckit.wire.frames` (frames), :mod:`e2ckit.errors` (the E2C error table) and
:mod:`e2ckit.names` (limits). New code imports from those."""

from __future__ import annotations

from e2ckit.errors import ERRORS, ErrorCode, ErrorInfo, error_info
from e2ckit.names import E2C_INTERNAL_CHANNEL, E2C_INTERNAL_NODE, MAX_CHANNEL, MAX_NODE, MAX_RCA
from e2ckit.wire.frames import (
    CONTROL_RCA_OFFSET,
    DATA_SIZE,
    NODE_RECORD_SIZE,
    REPLY_SIZE,
    REQUEST_SIZE,
    Mode,
    NodeRecord,
    Reply,
    Request,
    decode_reply,
    monitor_request,
    pack_can_id,
    reply_data,
    reply_dlen,
    reply_error,
    reply_length,
    unpack_can_id,
    whole_reply_ok,
)

__all__ = [
    "CONTROL_RCA_OFFSET", "DATA_SIZE", "E2C_INTERNAL_CHANNEL", "E2C_INTERNAL_NODE", "ERRORS", "ErrorCode",
    "ErrorInfo", "MAX_CHANNEL", "MAX_NODE", "MAX_RCA", "Mode", "NODE_RECORD_SIZE", "NodeRecord", "REPLY_SIZE",
    "REQUEST_SIZE", "Reply", "Request", "decode_reply", "error_info", "monitor_request", "pack_can_id",
    "reply_data", "reply_dlen", "reply_error", "reply_length", "unpack_can_id", "whole_reply_ok",
]  # fmt: skip
