"""Remote engines: the same :class:`~streamer.engines.base.Engine` interface, answered by a vendor or another aimd."""

from __future__ import annotations

from ...config import AnalysisSettings
from ..base import Engine
from .settings import RemoteEngineSettings

#: Streaming first, then the clip engines (they judge whole files).
REMOTE_ENGINES = ("modulate", "modulate-batch", "pex", "mippia", "undetectable")


def create_remote_engine(analysis: AnalysisSettings, remote: RemoteEngineSettings) -> Engine:
    """The remote engine named in ``analysis.engine``. Raises ValueError on a setting it cannot work with."""
    remote = remote.with_env()
    if analysis.engine == "modulate":
        from .modulate_stream import ModulateStreamEngine

        return ModulateStreamEngine(analysis, remote)
    from .clip_engine import ClipEngine
    from .vendors import clip_judge

    return ClipEngine(analysis, remote, clip_judge(analysis.engine, remote, analysis.decision.window_ai_threshold))


__all__ = ["REMOTE_ENGINES", "RemoteEngineSettings", "create_remote_engine"]
