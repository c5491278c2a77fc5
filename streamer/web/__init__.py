"""The live status page of ``aimd run`` / ``aimd serve``: sink state, SSE, and the HTTP app around them."""

from __future__ import annotations

from .app import add_status_routes, bound_port, create_web_app, start_web_server
from .status import StatusSink

__all__ = ["StatusSink", "add_status_routes", "bound_port", "create_web_app", "start_web_server"]
