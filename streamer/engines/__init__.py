"""Analysis engines behind one interface (see :mod:`streamer.engines.base`)."""

from __future__ import annotations

from ..config import AnalysisSettings
from .base import Engine
from .remote import REMOTE_ENGINES, RemoteEngineSettings, create_remote_engine

ENGINES = ("local", *REMOTE_ENGINES)


def create_engine(settings: AnalysisSettings, remote: RemoteEngineSettings | None = None) -> Engine:
    """Build the engine named in ``settings.engine``; ``remote`` configures the remote ones (default: env only)."""
    if settings.engine == "local":
        from .local.engine import LocalEngine

        return LocalEngine(settings.decision)
    if settings.engine in REMOTE_ENGINES:
        return create_remote_engine(settings, remote or RemoteEngineSettings())
    raise ValueError(f"unknown engine {settings.engine!r}; choose one of: {', '.join(ENGINES)}")
