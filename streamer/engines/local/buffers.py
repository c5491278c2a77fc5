"""Per-thread scratch arrays, reused window after window.

Fresh multi-megabyte arrays on every call cost more than the FFTs that fill them:
first-touch page faults took ~2.7 ms of a 3.6 ms 16k STFT, and half of the content
STFT's time. Thread-local because engine sessions run in a thread pool.
"""

from __future__ import annotations

import threading

import numpy as np


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}


_scratch = _Scratch()


def scratch(name: str, shape: tuple[int, ...], dtype: type[np.generic] = np.float64) -> np.ndarray:
    """An uninitialised array owned by the calling thread under ``name``; the same one while the
    shape and dtype stay. Callers overwrite it completely and never keep it past their call."""
    array = _scratch.arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = _scratch.arrays[name] = np.empty(shape, dtype)
    return array
