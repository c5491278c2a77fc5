"""Real-music negatives the corpus lacks: human-composed scores arranged, rendered, mastered and
encoded the way releases are — and what the shipped local engine makes of them.

    python scripts/render_midi.py {fluidr3,timgm} [--rebuild] [--pieces N]   build a set (if missing)
    python scripts/render_midi.py {fluidr3,timgm} --measure                  false positives of the shipped engine

Two sets, one per General MIDI sample library in Debian: "fluidr3" (200 pieces through FluidR3 GM)
and "timgm" (100 other pieces through TimGM6mb). scripts/evaluate reports the engine's false
positives on both (docs/accuracy.md); they are not in training (docs/model.md says why).

Pieces come from the score corpus inside the music21 wheel (Bach chorales, Palestrina, Monteverdi,
quartets, piano music, folk tunes …), drawn round-robin across its collections so that no style
dominates. Each is arranged for random General MIDI programs, sometimes over a drum kit, at a random
tempo and key, rendered by the fluidsynth CLI with the FluidR3 GM soundfont, then mastered with
ffmpeg (shelving EQ, bus compression, gain into a brick-wall limiter for −14…−8 LUFS, which pushes
dynamic scores 4–10 dB into the limiter like loud modern masters) and encoded in stereo as MP3, AAC,
Opus or 16-bit PCM.
Nothing on the way is neural, so every window is a true negative.

The build stores each piece's per-window evidence as a train_dataset.Item (generator
"rendered-midi", group = the piece) in the set's cache (.npz, via train_dataset.save) and each piece's
recipe next to it (.json), so --measure can split the false positives by recipe.
Training-time only: music21 (PyPI), fluidsynth, fluid-soundfont-gm, timgm6mb-soundfont and ffmpeg
(Debian); `scripts/setup --train` installs them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: the other belongs to the team
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from evaluate_local import table
from train_dataset import RENDERED_SETS, Item, decode, load, save, window_evidence
from train_local import WHOLE, accumulated

from streamer.config import DecisionSettings
from streamer.engines.local.scoring import EvidenceScorer
from streamer.types import SAMPLE_RATE

if TYPE_CHECKING:  # music21 is imported only where the build needs it: --measure runs without it
    from music21.metadata.bundles import MetadataEntry
    from music21.stream import Stream


#: The generator name of a rendered piece's Item.
RENDERED_GENERATOR = "rendered-midi"


@dataclass(frozen=True)
class RenderedSet:
    cache: Path
    soundfont: Path
    seed: int
    pieces: int


SETS = {
    "fluidr3": RenderedSet(RENDERED_SETS["fluidr3"], Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), seed=0, pieces=200),
    "timgm": RenderedSet(RENDERED_SETS["timgm"], Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), seed=1, pieces=100),
}
#: Teaching snippets and chord charts, not pieces.
EXCLUDED_COLLECTIONS = ("demos", "theoryExercises", "leadSheet")
#: Larger scores are whole multi-movement quartets in one file: music21 parses them for half a minute.
MAX_SCORE_BYTES = 4_000_000
#: Short tunes are played again until they last this long (folk tunes are 15–30 s once through).
MIN_SECONDS = 32.0
#: Longer pieces keep this much, from the start or the middle.
MAX_SECONDS = 60.0
DEFAULT_BPM = 100.0  # scores without a metronome mark
DRUM_SHARE = 0.4
DRUM_CHANNEL = 9  # GM channel 10
#: Melodic channels: every MIDI channel but the drums'.
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)
#: General MIDI programs (0-based) by family. "bass" only ever plays the lowest line.
PROGRAMS = {
    "piano": (0, 1, 2, 4, 5, 6),
    "organ": (16, 17, 19),
    "guitar": (24, 25, 26, 27, 29, 30),
    "strings": (40, 41, 42, 48, 49, 50),
    "brass": (56, 57, 60, 61, 62),
    "woodwinds": (65, 66, 68, 71, 73),
    "synth pad": (88, 89, 90, 91, 95),
    "synth lead": (80, 81, 82, 87),
    "bass": (32, 33, 34, 35, 38, 39),
}
UPPER_FAMILIES = tuple(f for f in PROGRAMS if f != "bass")
KICK, SNARE, CLOSED_HAT, CRASH = 36, 38, 42, 49
#: Encoders as releases use them: (ffmpeg encoder, file suffix, bit rates in kbps; None = PCM).
CODECS: dict[str, tuple[str, str, tuple[int | None, ...]]] = {
    "MP3": ("libmp3lame", "mp3", (128, 160, 192, 256, 320)),
    "AAC": ("aac", "m4a", (128, 160, 192, 256)),
    "Opus": ("libopus", "ogg", (96, 128, 160)),
    "PCM": ("pcm_s16le", "wav", (None,)),
}
LIMIT_DB = -1.0  # the limiter's ceiling (sample peak; its codec overshoot is part of the release)


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    length: float
    pitch: int
    velocity: int


@dataclass
class Track:
    channel: int
    program: int  # ignored on the drum channel
    family: str
    pan: int  # MIDI controller 10, 0–127
    notes: list[Note]


@dataclass(frozen=True)
class QNote:
    """A score note in quarter notes, before the arrangement picks tempo and key."""

    start: float
    length: float
    pitch: int


@dataclass
class Piece:
    name: str  # collection/file[#number]
    collection: str
    voices: list[list[QNote]]
    bpm: float
    bar: float  # quarter notes per bar


# --- score: music21 corpus → voices -------------------------------------------------------------


def candidates(rng: np.random.Generator) -> Iterator[tuple[str, MetadataEntry]]:
    """Corpus entries round-robin across collections, each collection in a seeded random order."""
    from music21 import common, corpus

    by_collection: dict[str, list] = defaultdict(list)
    for entry in corpus.corpora.CoreCorpus().metadataBundle:
        collection = str(entry.sourcePath).split("/")[0]
        if collection not in EXCLUDED_COLLECTIONS:
            by_collection[collection].append(entry)
    queues = []
    for collection in sorted(by_collection):
        entries = sorted(by_collection[collection], key=lambda e: (str(e.sourcePath), str(e.number)))
        queues.append((collection, [entries[k] for k in rng.permutation(len(entries))]))
    root = Path(common.getCorpusFilePath())
    for turn in range(max(len(entries) for _, entries in queues)):
        for collection, entries in queues:
            if turn < len(entries) and score_bytes(root / entries[turn].sourcePath) <= MAX_SCORE_BYTES:
                yield collection, entries[turn]


def score_bytes(path: Path) -> int:
    """The size of a score's text (a .mxl is zipped MusicXML): music21's parse time grows with it."""
    if path.suffix == ".mxl":
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    return path.stat().st_size


def read_piece(collection: str, entry: MetadataEntry) -> Piece | None:
    """The entry's parts as note lists (ties merged), its first tempo and bar length; None if it has no notes."""
    from music21 import corpus, meter, stream, tempo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about every odd measure of old encodings
        parsed = corpus.parse(entry.sourcePath, number=entry.number)
        if isinstance(parsed, stream.Opus):
            parsed = parsed.scores[0]
        parts = list(parsed.parts) or [parsed]
        voices = [_voice(part) for part in parts]
    voices = [v for v in voices if v]
    if not voices:
        return None
    marks = parsed.flatten().getElementsByClass(tempo.MetronomeMark)
    signatures = parsed.flatten().getElementsByClass(meter.TimeSignature)
    bpm = float(marks[0].getQuarterBPM()) if marks and marks[0].number else DEFAULT_BPM
    bar = float(signatures[0].barDuration.quarterLength) if signatures else 4.0
    name = str(entry.sourcePath) + (f"#{entry.number}" if entry.number is not None else "")
    return Piece(name, collection, voices, float(np.clip(bpm, 50, 200)), bar if bar > 0 else 4.0)


def _voice(part: Stream) -> list[QNote]:
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length > 0:  # grace notes have none
            notes += [QNote(float(element.offset), length, p.midi) for p in element.pitches]
    return notes


# --- arrangement: voices → tracks (pure) --------------------------------------------------------


@dataclass
class Arrangement:
    tracks: list[Track]
    bpm: float
    transpose: int
    drums: bool
    seconds: float


def arrange(piece: Piece, rng: np.random.Generator) -> Arrangement:
    """Tempo ×0.8–1.3, transposition ±5, random GM programs, a bass line under bare melodies,
    ≤ MAX_SECONDS (start or middle), drums for DRUM_SHARE of the pieces."""
    bpm = piece.bpm * float(rng.uniform(0.8, 1.3))
    seconds_per_quarter = 60.0 / bpm
    transpose = int(rng.integers(-5, 6))
    voices = sorted(piece.voices, key=lambda v: -float(np.median([n.pitch for n in v])))  # highest first
    if len(voices) == 1:
        voices.append(bar_bass(voices[0], piece.bar))
    voices = excerpt(loop(voices, piece.bar, MIN_SECONDS / seconds_per_quarter), piece.bar, MAX_SECONDS / seconds_per_quarter, rng)
    tracks = []
    for k, voice in enumerate(voices):
        lowest = k == len(voices) - 1
        family = "bass" if lowest and (len(piece.voices) == 1 or rng.random() < 0.5) else str(rng.choice(UPPER_FAMILIES))
        octave = -12 if family == "bass" and np.median([n.pitch for n in voice]) > 55 else 0
        base_velocity = rng.uniform(60, 105)
        notes = [
            Note(n.start * seconds_per_quarter, n.length * seconds_per_quarter, playable(n.pitch + transpose + octave), velocity(base_velocity, rng))
            for n in voice
        ]
        channel = MELODIC_CHANNELS[k % len(MELODIC_CHANNELS)]
        tracks.append(Track(channel, int(rng.choice(PROGRAMS[family])), family, int(rng.integers(24, 104)), notes))
    span = max(n.start + n.length for v in voices for n in v)
    drums = bool(rng.random() < DRUM_SHARE)
    if drums:
        tracks.append(Track(DRUM_CHANNEL, 0, "drums", 64, drum_pattern(span, piece.bar, seconds_per_quarter, rng)))
    return Arrangement(tracks, bpm, transpose, drums, span * seconds_per_quarter)


def bar_bass(melody: list[QNote], bar: float) -> list[QNote]:
    """A bass note per bar under a bare tune: the pitch class of the melody note sounding at the downbeat."""
    end = max(n.start + n.length for n in melody)
    bass = []
    for start in np.arange(0.0, end, bar):
        sounding = [n for n in melody if n.start <= start < n.start + n.length] or [n for n in melody if start <= n.start < start + bar]
        if sounding:
            bass.append(QNote(float(start), float(min(bar, end - start)), 36 + sounding[0].pitch % 12))
    return bass


def loop(voices: list[list[QNote]], bar: float, min_quarters: float) -> list[list[QNote]]:
    """Play a short piece again (from a bar line, so drums stay in time) until it lasts min_quarters."""
    end = max(n.start + n.length for v in voices for n in v)
    period = float(np.ceil(end / bar) * bar)
    repeats = int(np.ceil(min_quarters / period))
    return [[QNote(n.start + r * period, n.length, n.pitch) for r in range(repeats) for n in v] for v in voices]


def excerpt(voices: list[list[QNote]], bar: float, max_quarters: float, rng: np.random.Generator) -> list[list[QNote]]:
    """At most max_quarters of a long piece, from the start or from the bar nearest the middle; notes cut at the end."""
    end = max(n.start + n.length for v in voices for n in v)
    if end <= max_quarters:
        return voices
    start = float(np.floor((end - max_quarters) / 2 / bar) * bar) if rng.random() < 0.5 else 0.0
    stop = start + max_quarters
    cut = [[QNote(n.start - start, min(n.length, stop - n.start), n.pitch) for n in v if start <= n.start < stop] for v in voices]
    return [v for v in cut if v]


def drum_pattern(quarters: float, bar: float, seconds_per_quarter: float, rng: np.random.Generator) -> list[Note]:
    """Kick on even beats, snare on odd ones, closed hi-hat on every eighth, a crash every fourth bar."""
    hits = []
    for beat in np.arange(0.0, quarters, 0.5):
        in_bar = beat % bar
        if in_bar == 0 and beat % (4 * bar) == 0:
            hits.append((beat, CRASH, 100))
        if in_bar % 1 == 0:
            hits.append((beat, KICK if int(in_bar) % 2 == 0 else SNARE, 100))
        hits.append((beat, CLOSED_HAT, 75 if in_bar % 1 == 0 else 60))
    return [Note(beat * seconds_per_quarter, 0.1, pitch, velocity(level, rng)) for beat, pitch, level in hits]


def playable(pitch: int) -> int:
    """Octave-shift into the GM instruments' useful range."""
    while pitch < 24:
        pitch += 12
    while pitch > 100:
        pitch -= 12
    return pitch


def velocity(base: float, rng: np.random.Generator) -> int:
    return int(np.clip(round(base + rng.normal(0, 7)), 30, 127))


# --- Standard MIDI File (pure) ------------------------------------------------------------------

TICKS_PER_QUARTER = 480
#: The file keeps the default 120 bpm, so a tick is 1/960 s: the arrangement's tempo is in its seconds.
TICKS_PER_SECOND = 2 * TICKS_PER_QUARTER


def midi_file(tracks: list[Track]) -> bytes:
    """A format-1 Standard MIDI File, one track chunk per Track."""
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), TICKS_PER_QUARTER)
    return header + b"".join(_track_chunk(t) for t in tracks)


def _track_chunk(track: Track) -> bytes:
    ch = track.channel
    # (tick, order, message): at one tick, note-offs (order 0) come before note-ons so repeated notes restart.
    events = [(0, 0, bytes((0xC0 | ch, track.program))), (0, 0, bytes((0xB0 | ch, 10, track.pan)))]
    for n in track.notes:
        on = round(n.start * TICKS_PER_SECOND)
        events.append((on, 1, bytes((0x90 | ch, n.pitch, n.velocity))))
        events.append((max(on + 1, round((n.start + n.length) * TICKS_PER_SECOND)), 0, bytes((0x80 | ch, n.pitch, 0))))
    events.sort(key=lambda e: (e[0], e[1]))
    body, last = bytearray(), 0
    for tick, _, message in events:
        body += variable_length(tick - last) + message
        last = tick
    body += variable_length(0) + b"\xff\x2f\x00"  # end of track
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def variable_length(value: int) -> bytes:
    """SMF variable-length quantity: 7 bits per byte, most significant first, high bit = more follows."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


# --- render and master -------------------------------------------------------------------------


@dataclass(frozen=True)
class Master:
    """One release chain: shelving EQ → bus compressor → gain into a limiter → encoder."""

    bass_db: float
    bass_hz: float
    treble_db: float
    treble_hz: float
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    target_lufs: float
    codec: str  # a CODECS key
    kbps: int | None

    @staticmethod
    def draw(rng: np.random.Generator) -> Master:
        codec = str(rng.choice(list(CODECS)))
        return Master(
            bass_db=round(float(rng.uniform(-2, 6)), 1),
            bass_hz=round(float(rng.uniform(60, 150))),
            treble_db=round(float(rng.uniform(-2, 5)), 1),
            treble_hz=round(float(rng.uniform(6000, 12000)), -2),
            threshold_db=round(float(rng.uniform(-24, -10)), 1),
            ratio=round(float(rng.uniform(1.5, 6)), 1),
            attack_ms=round(float(rng.uniform(3, 30)), 1),
            release_ms=round(float(rng.uniform(50, 300))),
            target_lufs=round(float(rng.uniform(-14, -8)), 1),
            codec=codec,
            kbps=CODECS[codec][2][rng.integers(len(CODECS[codec][2]))],
        )

    def bus(self) -> str:
        """EQ and compression: the part of the chain before the gain that sets the loudness."""
        return (
            f"bass=g={self.bass_db}:f={self.bass_hz},treble=g={self.treble_db}:f={self.treble_hz},"
            f"acompressor=threshold={10 ** (self.threshold_db / 20):.5f}:ratio={self.ratio}:attack={self.attack_ms}:release={self.release_ms}"
        )

    def limited(self, gain_db: float) -> str:
        """The whole chain, with the limiter's automatic level-up off so the gain alone sets the loudness."""
        return f"{self.bus()},volume={gain_db:.2f}dB,alimiter=limit={10 ** (LIMIT_DB / 20):.4f}:attack=5:release=50:level=0:latency=1"

    def encoder(self) -> list[str]:
        name, _, _ = CODECS[self.codec]
        return ["-c:a", name] + (["-b:a", f"{self.kbps}k"] if self.kbps else [])

    def label(self) -> str:
        return f"{self.codec} {self.kbps}k" if self.kbps else self.codec


@dataclass
class Recipe:
    """What was done to one piece (stored next to the evidence; --measure groups by it)."""

    piece: str
    collection: str
    bpm: float
    transpose: int
    families: list[str]
    drums: bool
    reverb: bool
    chorus: bool
    master: dict[str, float | str | None]  # the Master's fields
    gain_db: float  # into the limiter
    drive_db: float  # how far the loudest peak was pushed past the ceiling: the limiting depth
    lufs: float  # integrated loudness of the stereo master
    true_peak_db: float


def render(midi: bytes, workdir: Path, reverb: bool, chorus: bool, soundfont: Path) -> Path:
    """fluidsynth's fast render to 32-bit float stereo at 44.1 kHz (float: nothing clips before mastering)."""
    mid, wav = workdir / "piece.mid", workdir / "piece.wav"
    mid.write_bytes(midi)
    command = ["fluidsynth", "-n", "-i", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-O", "float", "-R", str(int(reverb)), "-C", str(int(chorus))]
    run(command + ["-F", str(wav), str(soundfont), str(mid)])
    return wav


_SUMMARY = {"lufs": re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS"), "peak": re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS")}


def loudness(stderr: str) -> dict[str, float]:
    """Integrated loudness and peak from the summary ffmpeg's ebur128 filter prints when it ends."""
    found = {key: pattern.findall(stderr) for key, pattern in _SUMMARY.items()}
    if not all(found.values()):
        raise RuntimeError("ffmpeg printed no ebur128 summary")
    return {key: float(values[-1]) for key, values in found.items()}


def master(wav: Path, chain: Master, workdir: Path) -> tuple[Path, float, dict[str, float], dict[str, float]]:
    """Measure the bus's loudness, then gain + limit + encode in one pass that also measures the result.
    Returns the encoded file, the gain, and the loudness/peak before (sample peak) and after (true peak)."""
    before = loudness(run(["ffmpeg", "-i", str(wav), "-af", f"{chain.bus()},ebur128=peak=sample", "-f", "null", "-"]))
    gain_db = chain.target_lufs - before["lufs"]
    encoded = workdir / f"master.{CODECS[chain.codec][1]}"
    graph = f"[0:a]{chain.limited(gain_db)},asplit[release][meter];[meter]ebur128=peak=true[measured]"
    after = loudness(run(["ffmpeg", "-i", str(wav), "-filter_complex", graph, "-map", "[release]", *chain.encoder(), str(encoded), "-map", "[measured]", "-f", "null", "-"]))
    return encoded, gain_db, before, after


def run(command: list[str]) -> str:
    """Run a tool quietly; its stderr (where ffmpeg reports) is the result."""
    if command[0] == "ffmpeg":
        command = ["ffmpeg", "-hide_banner", "-nostats", "-y", *command[1:]]
    return subprocess.run(command, check=True, capture_output=True, text=True).stderr


# --- build -------------------------------------------------------------------------------------


def build_piece(piece: Piece, rng: np.random.Generator, soundfont: Path) -> tuple[Item, Recipe] | None:
    arrangement = arrange(piece, rng)
    reverb, chorus = bool(rng.random() < 0.5), bool(rng.random() < 0.3)
    chain = Master.draw(rng)
    with tempfile.TemporaryDirectory(prefix="aimd_midi_") as tmp:
        workdir = Path(tmp)
        wav = render(midi_file(arrangement.tracks), workdir, reverb, chorus, soundfont)
        encoded, gain_db, before, after = master(wav, chain, workdir)
        mono = decode(encoded)
    evidence = window_evidence(mono)
    if len(evidence[1]) == 0:
        return None

    recipe = Recipe(
        piece=piece.name,
        collection=piece.collection,
        bpm=round(arrangement.bpm, 1),
        transpose=arrangement.transpose,
        families=sorted({t.family for t in arrangement.tracks if t.family != "drums"}),
        drums=arrangement.drums,
        reverb=reverb,
        chorus=chorus,
        master=asdict(chain),
        gain_db=round(gain_db, 1),
        drive_db=round(before["peak"] + gain_db - LIMIT_DB, 1),
        lufs=after["lufs"],
        true_peak_db=after["peak"],
    )
    name = f"{piece.name} [{chain.label()}, {after['lufs']:.0f} LUFS]"
    return Item(name, "real", RENDERED_GENERATOR, piece.name, "no", *evidence), recipe


def build(rendered: RenderedSet, pieces: int) -> None:
    os.nice(10)  # fluidsynth and ffmpeg inherit it
    rng = np.random.default_rng(rendered.seed)
    items, recipes = [], {}
    started = time.monotonic()
    for collection, entry in candidates(rng):
        if len(items) == pieces:
            break
        try:
            piece = read_piece(collection, entry)
        except Exception as error:  # noqa: BLE001  music21 raises many kinds on scores it cannot read
            print(f"\nskipped {entry.sourcePath}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        try:
            built = build_piece(piece, rng, rendered.soundfont) if piece else None
        except subprocess.CalledProcessError as error:
            print(f"\nskipped {piece.name}: {error.cmd[0]} failed: {error.stderr.strip()[-200:]}", file=sys.stderr)
            continue
        if built is None:
            continue
        item, recipe = built
        items.append(item)
        recipes[item.name] = asdict(recipe)
        print(f"\r{len(items)}/{pieces} pieces, {time.monotonic() - started:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    save(items, rendered.cache)
    rendered.cache.with_suffix(".json").write_text(json.dumps(recipes, indent=1))
    windows = sum(len(i.frames) for i in items)
    print(f"wrote {rendered.cache} ({len(items)} pieces, {windows} windows) in {time.monotonic() - started:.0f} s")


# --- measure -----------------------------------------------------------------------------------


@dataclass
class Scored:
    item: Item
    recipe: dict
    piece: float  # ai_score of the whole piece's accumulated evidence
    windows: np.ndarray  # ai_score of each 4 s window
    fingerprint_windows: np.ndarray  # the same without the envelope jitter: which family fires
    evidence: str  # the evidence the engine names first for the whole piece


def score_all(items: list[Item], recipes: dict[str, dict]) -> list[Scored]:
    scorer = EvidenceScorer()
    scored = []
    for item in items:
        whole = scorer.score(*accumulated(item, WHOLE)[0])
        windows = accumulated(item, 1)
        both = np.array([scorer.score(*w).ai_score for w in windows])
        fingerprint = np.array([scorer.score(mean_db, frames, None).ai_score for mean_db, frames, _ in windows])
        scored.append(Scored(item, recipes[item.name], whole.ai_score, both, fingerprint, whole.evidence[0]))
    return scored


def drive_bucket(r: dict) -> list[str]:
    drive = r["drive_db"]
    return ["limiter idle (< 0 dB)" if drive < 0 else "light (0–4 dB)" if drive < 4 else "heavy (4–10 dB)" if drive < 10 else "crushed (≥ 10 dB)"]


def loudness_bucket(r: dict) -> list[str]:
    lufs = r["lufs"]
    return ["quieter than −12 LUFS" if lufs < -12 else "−12…−10 LUFS" if lufs < -10 else "−10 LUFS and louder"]


#: How --measure splits the pieces: title → the rows a recipe belongs to (a piece is in each of its families).
SPLITS: dict[str, Callable[[dict], list[str]]] = {
    "codec": lambda r: [r["master"]["codec"]],
    "codec and bit rate": lambda r: [Master(**r["master"]).label()],
    "limiting depth (peak pushed past the −1 dB ceiling)": drive_bucket,
    "loudness of the master": loudness_bucket,
    "GM program family (a piece counts in each family it uses)": lambda r: r["families"],
    "drums": lambda r: ["with drums" if r["drums"] else "no drums"],
    "fluidsynth reverb / chorus": lambda r: [f"reverb {'on' if r['reverb'] else 'off'}, chorus {'on' if r['chorus'] else 'off'}"],
    "score collection": lambda r: [r["collection"]],
}
HEADER = ["", "pieces", "windows", "piece FPR", "window FPR", "window FPR, fingerprint alone", "piece median", "piece p99", "piece max", "window p99", "window max"]


def row(label: str, group: list[Scored], decision: DecisionSettings) -> list[str]:
    pieces = np.array([s.piece for s in group])
    windows = np.concatenate([s.windows for s in group])
    return [
        label,
        str(len(group)),
        str(len(windows)),
        f"{np.mean(pieces >= decision.clip_ai_threshold):.1%}",
        f"{np.mean(windows >= decision.window_ai_threshold):.2%}",
        f"{np.mean(np.concatenate([s.fingerprint_windows for s in group]) >= decision.window_ai_threshold):.2%}",
        *(f"{v:.3f}" for v in (np.median(pieces), np.quantile(pieces, 0.99), pieces.max(), np.quantile(windows, 0.99), windows.max())),
    ]


def split_tables(scored: list[Scored], decision: DecisionSettings, what: str, splits: dict[str, Callable[[dict], list[str]]]) -> list[str]:
    """The false-positive tables of a --measure report: all of ``what``, then by each split of the recipes."""
    sections = [
        (
            f"Shipped local engine on {len(scored)} {what} (all real music). "
            f"Piece = a piece's whole accumulated evidence at the clip threshold {decision.clip_ai_threshold}; "
            f"window = each 4 s window at the window threshold {decision.window_ai_threshold}."
        ),
        table(HEADER, [row("all", scored, decision)]),
    ]
    for title, keys in splits.items():
        groups: dict[str, list[Scored]] = defaultdict(list)
        for s in scored:
            for key in keys(s.recipe):
                groups[key].append(s)
        sections += [f"### By {title}", table(HEADER, [row(k, groups[k], decision) for k in sorted(groups, key=lambda k: -len(groups[k]))])]
    return sections


def report(scored: list[Scored], decision: DecisionSettings, top: int = 10) -> str:
    sections = split_tables(scored, decision, "rendered, mastered and encoded MIDI pieces", SPLITS)
    highest = sorted(scored, key=lambda s: -max(s.piece, s.windows.max()))[:top]
    sections += [
        f"### The {top} pieces the engine liked least",
        table(
            ["piece", "piece score", "window max", "recipe", "evidence"],
            [[s.recipe["piece"], f"{s.piece:.3f}", f"{s.windows.max():.3f}", describe(s.recipe), s.evidence] for s in highest],
        ),
    ]
    return "\n\n".join(sections)


def describe(r: dict) -> str:
    families = "+".join(r["families"]) + (" +drums" if r["drums"] else "")
    return f"{families}; {Master(**r['master']).label()}, {r['lufs']:.1f} LUFS, drive {r['drive_db']:.0f} dB{', reverb' if r['reverb'] else ''}"


# --- command line ------------------------------------------------------------------------------


def missing_tools(soundfont: Path) -> list[str]:
    missing = [tool for tool in ("fluidsynth", "ffmpeg") if shutil.which(tool) is None]
    missing += [] if soundfont.exists() else [f"{soundfont} (scripts/setup --train installs it)"]
    missing += [] if importlib.util.find_spec("music21") else ["music21 (scripts/setup --train installs it)"]
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", choices=list(SETS), help="which sample library")
    parser.add_argument("--pieces", type=int, help="pieces to render (default: 200 for fluidr3, 100 for timgm)")
    parser.add_argument("--rebuild", action="store_true", help="render again even if the cache exists")
    parser.add_argument("--measure", action="store_true", help="score the cache with the shipped engine and print markdown")
    args = parser.parse_args()
    rendered = SETS[args.set]
    if args.measure:
        recipes = rendered.cache.with_suffix(".json")
        if not rendered.cache.exists() or not recipes.exists():
            sys.exit(f"render_midi: {rendered.cache} or its recipes {recipes} is missing: build them first (without --measure)")
        print(report(score_all(load(rendered.cache), json.loads(recipes.read_text())), DecisionSettings()))
        return
    if rendered.cache.exists() and not args.rebuild:
        print(f"render_midi: {rendered.cache} exists (--rebuild renders it again)")
        return
    pieces = args.pieces if args.pieces is not None else rendered.pieces
    if pieces < 1:
        sys.exit("render_midi: --pieces must be at least 1")
    if missing := missing_tools(rendered.soundfont):
        sys.exit("render_midi: missing " + ", ".join(missing))
    build(rendered, pieces)


if __name__ == "__main__":
    main()
