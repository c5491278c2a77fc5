"""Measure decode + resample speed of the file path (target: 3 min MP3 in < 0.35 s on one core).

    .venv/bin/python scripts/bench_decode.py [--seconds 180] [--repeat 5]

Encodes synthetic music to MP3 at 44.1 kHz (pass-through) and 48 kHz
(resampled), then times: the bare decoder, the decoder + resampler in this
thread, and the full async FileSource (worker thread + loop hand-over).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from audio_fixtures import encode, music  # noqa: E402

from streamer.audio.decode import DecodeStats, decode_file, decode_pcm, open_media  # noqa: E402
from streamer.audio.file_source import FileSource  # noqa: E402
from streamer.audio.resample import Resampler  # noqa: E402


def best_of(repeat: int, run: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def bare_decode(path: str) -> None:
    with open_media(path) as container:
        for _ in decode_pcm(container, DecodeStats(), 0.5):
            pass


def decode_and_resample(path: str, quality: str) -> None:
    for _ in decode_file(path, Resampler(quality), DecodeStats()):
        pass


def file_source(path: str) -> None:
    async def consume() -> None:
        async for _ in FileSource(path).events():
            pass

    asyncio.run(consume())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    audio = music(args.seconds, rate=48000)
    with tempfile.TemporaryDirectory() as tmp:
        for rate in (44100, 48000):
            path = str(encode(Path(tmp) / f"music{rate}.mp3", audio, rate, "mp3"))
            print(f"{args.seconds:.0f} s stereo MP3 at {rate} Hz")
            print(f"  decode only               {best_of(args.repeat, bare_decode, path):.3f} s")
            for quality in ("MQ", "HQ", "VHQ"):
                elapsed = best_of(args.repeat, decode_and_resample, path, quality)
                print(f"  decode + resample ({quality:>3})   {elapsed:.3f} s")
            print(f"  FileSource (async, HQ)    {best_of(args.repeat, file_source, path):.3f} s")


if __name__ == "__main__":
    main()
