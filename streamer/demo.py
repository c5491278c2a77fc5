"""``aimd demo``: show the whole pipeline working, offline, with nothing to download.

It synthesises a piece of music, makes a second version that carries the
spectral fingerprint of a neural decoder (a random-weight transposed-convolution
upsampler, the architecture behind most AI music generators), encodes both as
MP3 files like any download, and streams them through the real pipeline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .audio.encode import encode
from .audio.sources import open_source
from .config import AnalysisSettings
from .engines import create_engine
from .engines.local.artefacts import decoder_artefacts
from .pipeline import analyse_stream
from .sinks.stdout import format_table
from .synth import music
from .types import SAMPLE_RATE


async def run_demo(seconds: float) -> int:
    settings = AnalysisSettings()
    clean = music(seconds, seed=7)
    decoded = decoder_artefacts(clean, SAMPLE_RATE, strides=(8, 5, 4, 2), seed=7)
    engine = create_engine(settings)
    print(f"aimd demo: {seconds:.0f} s of synthesised music, and the same music through a neural-style decoder.\n")
    try:
        with tempfile.TemporaryDirectory(prefix="aimd-demo-") as tmp:
            for name, audio in (("human-made.mp3", clean), ("ai-decoded.mp3", decoded)):
                path = Path(tmp) / name
                encode(audio, SAMPLE_RATE, path, "mp3")
                summary = await analyse_stream(open_source(str(path)), engine, settings, keep_windows=True, file_input=True)
                print(format_table(name, summary) + "\n")
    finally:
        await engine.aclose()
    print("Try it on your own audio:  aimd analyze song.mp3   |   aimd run --source https://radio.example/stream")
    return 0
