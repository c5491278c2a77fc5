"""Pure decoding of headerless PCM (Modulate's raw ``audio_format`` values) to float32.

Bytes in, ``(frames, channels)`` float32 out, no I/O: the stdin source and the
Modulate-compatible WebSocket server both feed it whatever chunks arrive.
Everything is vectorised with numpy; 24-bit and unsigned formats are rewritten
at byte level so one signed-integer path decodes them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: Every raw ``audio_format`` Modulate accepts (vendor-protocols.md §1.3).
RAW_FORMATS: tuple[str, ...] = (
    "s8", "s16le", "s16be", "s24le", "s24be", "s32le", "s32be",
    "u8", "u16le", "u16be", "u24le", "u24be", "u32le", "u32be",
    "f32le", "f32be", "f64le", "f64be", "mulaw", "alaw",
)  # fmt: skip
#: Sample rates Modulate accepts for raw formats.
RAW_SAMPLE_RATES: tuple[int, ...] = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000)
#: Channel counts Modulate accepts for raw formats.
RAW_MAX_CHANNELS = 8


@dataclass(frozen=True, slots=True)
class RawFormat:
    name: str
    width: int  # bytes per sample
    kind: str  # "int", "uint", "float" or "g711"
    big_endian: bool


def _parse(name: str) -> RawFormat:
    if name in ("mulaw", "alaw"):
        return RawFormat(name, 1, "g711", False)
    kind, bits, endian = re.fullmatch(r"([suf])(\d+)(le|be)?", name).groups()  # type: ignore[union-attr]
    return RawFormat(name, int(bits) // 8, {"s": "int", "u": "uint", "f": "float"}[kind], endian == "be")


_FORMATS: dict[str, RawFormat] = {name: _parse(name) for name in RAW_FORMATS}


def _g711_tables() -> dict[str, np.ndarray]:
    """The 256-entry G.711 expansion tables (ITU-T G.711, as in the reference g711.c)."""
    code = np.arange(256, dtype=np.int32)
    u = ~code & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = ((((u & 0x0F) << 3) + 0x84) << exponent) - 0x84
    mulaw = np.where(u & 0x80, -magnitude, magnitude)
    a = code ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = (a & 0x0F) << 4
    magnitude = np.where(exponent == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(exponent - 1, 0))
    alaw = np.where(a & 0x80, magnitude, -magnitude)  # A-law's sign bit set means positive
    return {"mulaw": (mulaw / 32768.0).astype(np.float32), "alaw": (alaw / 32768.0).astype(np.float32)}


_G711 = _g711_tables()


def validate_raw_params(fmt: str, rate: int, channels: int) -> RawFormat:
    """Check a raw format declaration; raises ValueError with the accepted values."""
    if fmt not in _FORMATS:
        raise ValueError(f"invalid raw format {fmt!r}; valid: {', '.join(RAW_FORMATS)}")
    if rate not in RAW_SAMPLE_RATES:
        raise ValueError(f"invalid sample rate {rate}; valid: {', '.join(map(str, RAW_SAMPLE_RATES))}")
    if not 1 <= channels <= RAW_MAX_CHANNELS:
        raise ValueError(f"invalid channel count {channels}; valid: 1-{RAW_MAX_CHANNELS}")
    return _FORMATS[fmt]


def decode_samples(data: bytes | bytearray | memoryview, fmt: RawFormat) -> np.ndarray:
    """Decode whole samples (``len(data)`` a multiple of ``fmt.width``) into a flat float32 array."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if fmt.kind == "g711":
        return _G711[fmt.name][raw]
    order = ">" if fmt.big_endian else "<"
    if fmt.kind == "float":
        floats = np.frombuffer(data, dtype=f"{order}f{fmt.width}")
        # Beyond float32's range a 64-bit sample becomes ±inf, which the Resampler then silences.
        with np.errstate(over="ignore"):
            return floats.astype(np.float32)
    width = fmt.width
    if fmt.kind == "uint" or width == 3:
        raw = raw.reshape(-1, width).copy()
        if fmt.kind == "uint":  # offset binary → two's complement: flip the top bit
            raw[:, 0 if fmt.big_endian else -1] ^= 0x80
        if width == 3:  # widen to 32 bits with a zero low byte, so the sign lands in place
            raw, width = _widen24(raw, fmt.big_endian), 4
    ints = np.frombuffer(raw, dtype=f"{order}i{width}")
    return ints.astype(np.float32) * np.float32(1.0 / (1 << (8 * width - 1)))


def _widen24(triples: np.ndarray, big_endian: bool) -> np.ndarray:
    out = np.zeros((triples.shape[0], 4), dtype=np.uint8)
    if big_endian:
        out[:, :3] = triples
    else:
        out[:, 1:] = triples
    return out


class RawPcmDecoder:
    """Stateful raw PCM decoder: feed byte chunks of any size, get whole frames.

    A frame split across chunks is carried over to the next :meth:`feed`, so
    any chunking of the same bytes decodes to the same samples.
    """

    def __init__(self, fmt: str, rate: int, channels: int) -> None:
        self.format = validate_raw_params(fmt, rate, channels)
        self.rate = rate
        self.channels = channels
        self.frame_bytes = self.format.width * channels
        self._carry = b""

    def feed(self, chunk: bytes | bytearray | memoryview) -> np.ndarray:
        """Decode ``chunk`` (plus bytes carried over); returns float32 ``(frames, channels)``."""
        data = self._carry + bytes(chunk) if self._carry else chunk
        whole = len(data) - len(data) % self.frame_bytes
        self._carry = bytes(data[whole:])
        return decode_samples(memoryview(data)[:whole], self.format).reshape(-1, self.channels)

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame waiting for the next chunk (dropped if the stream ends)."""
        return len(self._carry)
