"""Analysis engines behind one interface (see :mod:`streamer.engines.base`)."""

from __future__ import annotations

from ..config import AnalysisSettings
from .base import Engine

ENGINES = ("local",)


def create_engine(settings: AnalysisSettings) -> Engine:
    """Build the engine named in ``settings.engine``."""
    if settings.engine == "local":
        from .local.engine import LocalEngine

        return LocalEngine(settings.decision)
    raise ValueError(f"unknown engine {settings.engine!r}; choose one of: {', '.join(ENGINES)}")
