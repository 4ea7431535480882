"""Logging filters."""

from __future__ import annotations

import logging

# Enough for any real host name; a hostile one can be kilobytes long, and is written twice.
MAX_SECURITY_MESSAGE = 300


class OneLineSecurityEvents(logging.Filter):
    """Write ``django.security.*`` events (a bogus Host, an oversized form...) as one line.

    Django logs each with its traceback, which says nothing the message does not (the request
    was refused with a 400) and lets anyone on the internet write pages into the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security."):
            message = record.getMessage().replace("\r", "\\r").replace("\n", "\\n")
            if len(message) > MAX_SECURITY_MESSAGE:
                message = message[:MAX_SECURITY_MESSAGE] + "… (shortened)"
            record.msg, record.args = message, None
            record.exc_info = record.exc_text = record.stack_info = None
        return True
