"""The local engine: detects decoder artefacts of AI music generators on CPU, offline."""

from .artefacts import decoder_artefacts
from .engine import LocalEngine, LocalSession

__all__ = ["LocalEngine", "LocalSession", "decoder_artefacts"]
