"""The envelope-jitter family: spectrogram inversion raises the jitter floor, steady music stays below the
calibrated threshold, the engine flags an inverted spectrogram the fingerprint misses, the cost fits the
budget, and a bad model file is refused clearly."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from test_local_engine_support import analyse, synthetic_music

from streamer.engines.local import LocalEngine
from streamer.engines.local.content import analyse as analyse_window
from streamer.engines.local.envelope_jitter import JitterModel, JitterScore, jitter_floor
from streamer.engines.local.model import ModelError
from streamer.engines.local.scoring import EvidenceScorer
from streamer.engines.local.spectrum import SpectrumSum, frame_db_sum
from streamer.types import SAMPLE_RATE, Decision

WINDOW = 4 * SAMPLE_RATE


def _stft(mono: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    return np.fft.rfft(sliding_window_view(np.pad(mono, n_fft // 2), n_fft)[::hop] * window, axis=1)


def _istft(spectrum: np.ndarray, n_fft: int, hop: int, window: np.ndarray, length: int) -> np.ndarray:
    frames = np.fft.irfft(spectrum, n=n_fft, axis=1) * window
    out, norm = np.zeros(length + n_fft), np.zeros(length + n_fft)
    for i, frame in enumerate(frames):
        out[i * hop : i * hop + n_fft] += frame
        norm[i * hop : i * hop + n_fft] += window**2
    return (out / np.maximum(norm, 1e-8))[n_fft // 2 : n_fft // 2 + length]


def invert_spectrogram(
    mono: np.ndarray, iterations: int = 0, frame_error_db: float = 0.0, n_fft: int = 1024, hop: int = 256, seed: int = 0
) -> np.ndarray:
    """Resynthesise ``mono`` from its STFT magnitude: random phase, then ``iterations`` of Griffin-Lim.

    ``frame_error_db`` perturbs each frame's magnitudes by a smooth random envelope (σ in dB, drawn per
    frame on 32 log-spaced bands), as a generated spectrogram image is not consistent from frame to frame.
    """
    rng = np.random.default_rng(seed)
    window = np.hanning(n_fft + 1)[:-1]
    magnitude = np.abs(_stft(mono, n_fft, hop, window))
    log_hz = np.log(np.maximum(np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE), 50.0))
    anchors = np.linspace(np.log(100.0), np.log(16_000.0), 32)
    error_db = np.stack([np.interp(log_hz, anchors, rng.normal(0.0, frame_error_db, 32)) for _ in magnitude])
    magnitude *= 10 ** (error_db / 20)
    out = _istft(magnitude * np.exp(2j * np.pi * rng.uniform(size=magnitude.shape)), n_fft, hop, window, len(mono))
    for _ in range(iterations):
        out = _istft(magnitude * np.exp(1j * np.angle(_stft(out, n_fft, hop, window))), n_fft, hop, window, len(mono))
    return out.astype(np.float32)


def flickering_envelope(seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """Noise whose envelope detail is redrawn every 1024 samples (±10 dB per mel-wide band): maximal flicker."""
    rng = np.random.default_rng(seed)
    log_hz = np.log(np.maximum(np.fft.rfftfreq(1024, 1 / SAMPLE_RATE), 50.0))
    anchors = np.linspace(np.log(100.0), np.log(8_000.0), 24)
    blocks = []
    for _ in range(int(seconds * SAMPLE_RATE) // 1024):
        shape = 10 ** (np.interp(log_hz, anchors, rng.uniform(-10, 10, 24)) / 20)
        blocks.append(np.fft.irfft(shape * np.fft.rfft(rng.standard_normal(1024)), n=1024))
    out = np.concatenate(blocks)
    return (0.1 * out / np.sqrt(np.mean(out**2))).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> JitterModel:
    return JitterModel.load()


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return synthetic_music(4.0, seed=3)


def floor_of(mono: np.ndarray) -> float:
    analysis = analyse_window(mono)
    assert analysis is not None
    return jitter_floor(analysis.cepstra)


@pytest.mark.parametrize("seed", [0, 2])
def test_inverting_a_spectrogram_raises_the_floor(model, seed) -> None:
    music = synthetic_music(4.0, seed=seed)
    source = model.score(floor_of(music), windows=1)
    inverted = model.score(floor_of(invert_spectrogram(music, seed=seed)), windows=1)
    assert inverted.z > source.z + 2.0


def test_a_flickering_envelope_is_flagged_and_steady_music_passes(model, music) -> None:
    steady = model.score(floor_of(music), windows=1)
    flicker = model.score(floor_of(flickering_envelope()), windows=1)
    assert steady.logit < 0 < flicker.logit
    assert "Griffin-Lim" in flicker.evidence() and "no spectrogram-inversion" in steady.evidence()


def test_the_same_window_gives_the_same_score(model, music) -> None:
    first, second = floor_of(music), floor_of(music.copy())
    assert first == second
    assert model.score(first, 3) == model.score(second, 3)


def test_the_logit_crosses_zero_at_each_calibrated_threshold(model) -> None:
    for windows, threshold in zip(model.windows, model.thresholds):
        assert model.score(float(threshold), float(windows)).logit == pytest.approx(0.0, abs=1e-9)
    # More audio never raises the bar (scripts/train_envelope_jitter.py keeps the table monotone).
    assert (np.diff(model.thresholds) <= 0).all()


def test_cost_per_window_fits_the_family_budget(music) -> None:
    analysis = analyse_window(music)
    assert analysis is not None

    def best_ms(run, repeats: int = 20) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return 1000 * min(times)

    # On the cepstra routing already computed, the family is a diff and a quantile.
    assert best_ms(lambda: jitter_floor(analysis.cepstra)) < 0.2


@pytest.mark.parametrize("shape", [(1, 13), (170, 5), (170,)])
def test_jitter_floor_rejects_cepstra_of_the_wrong_shape(shape) -> None:
    with pytest.raises(ValueError, match="cepstra"):
        jitter_floor(np.zeros(shape))


def test_the_shipped_model_loads_with_a_version(model) -> None:
    assert model.version.startswith("local-jitter-")
    assert isinstance(model.score(0.5, 1), JitterScore)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: {"scales": np.zeros_like(m.scales)},
        lambda m: {"thresholds": m.thresholds[:-1]},
        lambda m: {"centres": np.full_like(m.centres, np.nan)},
        lambda m: {"windows": m.windows[::-1].copy()},
        lambda m: {"slope": -1.0},
    ],
)
def test_a_malformed_model_is_rejected(tmp_path, model, change) -> None:
    other = tmp_path / "other.npz"
    dataclasses.replace(model, **change(model)).save(other)
    with pytest.raises(ModelError, match="does not fit this code"):
        JitterModel.load(other)


def test_a_missing_model_file_says_how_to_rebuild_it(tmp_path) -> None:
    with pytest.raises(ModelError, match="train_envelope_jitter.py"):
        JitterModel.load(tmp_path / "absent.npz")


# --- wired into the engine ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def inverted_generation() -> np.ndarray:
    """8 s of synthetic music as a spectrogram generator would output it: magnitudes with ±8 dB frame-wise
    errors, inverted by four Griffin-Lim iterations from random phase. No decoder comb in it."""
    return invert_spectrogram(synthetic_music(8.0, seed=4), iterations=4, frame_error_db=8.0, n_fft=2048, hop=512, seed=4)


def fingerprint_only(mono: np.ndarray) -> float:
    """The engine's clip score of ``mono`` without the jitter family: what the engine said before it."""
    spectra = SpectrumSum()
    for start in range(0, len(mono) - WINDOW + 1, WINDOW):
        spectra.add(*frame_db_sum(mono[start : start + WINDOW]))
    assert spectra.total is not None
    return EvidenceScorer().score(spectra.total / spectra.frames, spectra.frames, mean_floor=None).ai_score


async def test_the_engine_flags_an_inverted_spectrogram_that_the_fingerprint_misses(inverted_generation) -> None:
    assert fingerprint_only(inverted_generation) < 0.5
    verdicts, clip = await analyse(inverted_generation)
    assert [v.decision for v in verdicts] == [Decision.AI, Decision.AI]
    assert clip.is_ai and verdicts[-1].running_ai_score >= 0.5 and verdicts[-1].rolling_ai_score >= 0.5
    # The deciding family explains the flag first; the fingerprint's finding follows.
    assert clip.evidence[0].startswith("spectral envelope flickers") and "Griffin-Lim" in clip.evidence[0]
    assert clip.evidence[1].startswith("no periodic spectral peaks")


async def test_clean_music_gets_no_jitter_evidence() -> None:
    verdicts, clip = await analyse(synthetic_music(8, seed=2))
    assert not clip.is_ai and all(v.decision is Decision.HUMAN for v in verdicts)
    assert not any("flicker" in reason for v in verdicts for reason in (*v.evidence, *clip.evidence))


async def test_the_jitter_verdict_is_deterministic(inverted_generation) -> None:
    first, clip_a = await analyse(inverted_generation)
    second, clip_b = await analyse(inverted_generation.copy(), LocalEngine())
    assert [(v.ai_score, v.evidence) for v in first] == [(v.ai_score, v.evidence) for v in second]
    assert clip_a == clip_b


def test_the_engine_reports_the_jitter_model_version() -> None:
    assert LocalEngine().model_version.endswith(f"+{JitterModel.load().version}")
