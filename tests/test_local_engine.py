"""The local engine on synthetic audio: artefacts flagged, clean music passed, routing, determinism."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from streamer.config import DecisionSettings
from streamer.engines.local import LocalEngine, decoder_artefacts
from streamer.engines.local.content import CONTENT_PATH, ContentModel
from streamer.engines.local.envelope_jitter import JITTER_PATH
from streamer.engines.local.model import DEFAULT_PATH, ModelError, features, local_detail
from streamer.engines.local.spectrum import RESIDUAL_CLIP_DB, band_hz
from streamer.types import SAMPLE_RATE, Decision, WindowVerdict
from test_local_engine_support import analyse, synthetic_music, synthetic_speech


def comb_of_peaks(audio: np.ndarray, spacing: float, level_db: float) -> np.ndarray:
    """Add narrow sinusoidal peaks at k·spacing in 1–16 kHz, level_db below the audio's RMS."""
    t = np.arange(len(audio)) / SAMPLE_RATE
    freqs = np.arange(np.ceil(1000 / spacing), 16000 // spacing + 1) * spacing
    peaks = np.sin(2 * np.pi * freqs[:, None] * t).sum(axis=0)
    peaks *= np.sqrt(np.mean(audio**2)) * 10 ** (level_db / 20) / np.sqrt(np.mean(peaks**2))
    return (audio + peaks).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_clean_synthetic_music_passes(seed: int) -> None:
    verdicts, clip = await analyse(synthetic_music(16, seed))
    assert [v.decision for v in verdicts] == [Decision.HUMAN] * 4
    assert not clip.is_ai and clip.ai_score < 0.3
    assert "no periodic spectral peaks" in clip.evidence[0]


def with_replayed_cymbal(music: np.ndarray, seed: int) -> np.ndarray:
    """``music`` with one metallic one-shot (300 partials at 5–15 kHz, one recording) replayed every
    0.25 s at −12 dB, as a sampler plays a hi-hat: stationary peaks, but on no decoder grid."""
    rng = np.random.default_rng(100 + seed)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    partials = np.exp(rng.uniform(np.log(5000), np.log(15000), 300))
    amplitudes = rng.uniform(0.3, 1.0, 300)
    phases = rng.uniform(0, 2 * np.pi, 300)
    hit = (amplitudes[:, None] * np.sin(2 * np.pi * partials[:, None] * t + phases[:, None])).sum(axis=0)
    hit *= np.exp(-t / 0.1) * 10 ** (-12 / 20) / np.abs(hit).max()
    out = music.astype(np.float64)
    for start in range(0, len(out), SAMPLE_RATE // 4):
        stop = min(len(out), start + len(hit))
        out[start:stop] += hit[: stop - start]
    return out.astype(np.float32)


async def test_a_replayed_sample_is_not_mistaken_for_a_decoder() -> None:
    # local-fp-3 learnt a shortcut ("many peaks at 5-13 kHz = AI") and scored four of these six
    # clips above 0.89 (median 0.90). Reading only peaks that stand out locally: median 0.05.
    scores = [(await analyse(with_replayed_cymbal(synthetic_music(16, seed), seed)))[1].ai_score for seed in range(6)]
    assert float(np.median(scores)) < 0.2, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_random_decoder_artefacts_are_flagged(seed: int) -> None:
    # Level 0 dB: the synthetic chords fit scaled null grids well, so weaker
    # artefacts stay below the corpus-calibrated operating point on this music.
    music = synthetic_music(16, seed)
    verdicts, clip = await analyse(decoder_artefacts(music, SAMPLE_RATE, seed=seed, level_db=0))
    assert sum(v.decision is Decision.AI for v in verdicts) >= 2
    assert clip.is_ai
    assert "periodic spectral peaks every" in clip.evidence[0]


async def test_encodec_grid_peaks_are_named_in_the_evidence() -> None:
    music = synthetic_music(16, 3)
    verdicts, clip = await analyse(comb_of_peaks(music, 44100 / 40, -20))
    _, clean = await analyse(music)
    assert clip.evidence[0].startswith("periodic spectral peaks every 1102.5 Hz (44100/40)")
    assert sum(v.evidence[0].startswith("periodic spectral peaks every 1102.5 Hz") for v in verdicts) >= 2
    assert clip.ai_score > clean.ai_score


async def test_evidence_accumulates_over_the_stream() -> None:
    audio = decoder_artefacts(synthetic_music(32, 4), SAMPLE_RATE, seed=4, level_db=-24)
    verdicts, _ = await analyse(audio)
    window_scores = [v.ai_score for v in verdicts]
    assert verdicts[-1].running_ai_score > np.median(window_scores)
    assert verdicts[-1].running_ai_score >= verdicts[0].running_ai_score


async def test_rolling_score_follows_a_content_change() -> None:
    human = synthetic_music(32, 5)
    ai = decoder_artefacts(synthetic_music(32, 6), SAMPLE_RATE, seed=6, level_db=0)
    verdicts, _ = await analyse(np.concatenate([human, ai]), LocalEngine(DecisionSettings(rolling_windows=4)))
    last = verdicts[-1]
    assert last.rolling_ai_score > 0.5
    assert last.rolling_ai_score > last.running_ai_score  # the human half still weighs on the running score
    assert verdicts[7].rolling_ai_score < 0.5  # end of the human half


async def test_silence_is_routed_to_silence() -> None:
    verdicts, clip = await analyse(np.zeros(SAMPLE_RATE * 8, dtype=np.float32))
    assert [v.decision for v in verdicts] == [Decision.SILENCE] * 2
    assert all(v.silence_percentage == 100 and v.ai_score == 0 for v in verdicts)
    assert verdicts[0].level_dbfs <= -100
    assert not clip.is_ai and clip.evidence == ("no music heard",)


async def test_speech_is_routed_away_from_the_comb() -> None:
    verdicts, clip = await analyse(synthetic_speech(12))
    assert [v.decision for v in verdicts] == [Decision.SPEECH] * 3
    assert all(v.speech_percentage >= 50 and v.instrumental_ai_confidence == 0 for v in verdicts)
    assert not clip.is_ai


async def test_a_steady_tone_fills_the_instrumental_lane_with_level() -> None:
    t = np.arange(8 * SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    verdicts, _ = await analyse(np.stack([tone, tone], axis=1))  # stereo
    for v in verdicts:
        assert v.vocal_percentage < 5 and v.vocal_ai_percentage == 0 and v.vocal_ai_confidence == 0
        assert v.instrumental_ai_confidence == v.ai_score
        assert v.level_dbfs == pytest.approx(-23, abs=0.5)
        assert v.silence_percentage == 0
        assert v.end_ms - v.start_ms == 4000


@pytest.mark.parametrize("seed", [0, 3])
async def test_each_music_window_fills_exactly_the_lane_its_vocal_share_picks(seed: int) -> None:
    settings = DecisionSettings()
    verdicts, _ = await analyse(decoder_artefacts(synthetic_music(12, seed), SAMPLE_RATE, seed=seed, level_db=0))
    for v in verdicts:
        vocal_lane = v.vocal_percentage >= settings.vocal_window_pct
        assert v.vocal_percentage + v.instrumental_percentage + v.speech_percentage == pytest.approx(100 - v.silence_percentage, abs=0.05)
        assert (v.vocal_ai_confidence, v.instrumental_ai_confidence) == ((v.ai_score, 0.0) if vocal_lane else (0.0, v.ai_score))


def _without_clock(v: WindowVerdict) -> WindowVerdict:
    return dataclasses.replace(v, analysed_at=0.0)


async def test_same_input_gives_the_same_output() -> None:
    audio = decoder_artefacts(synthetic_music(12, 8), SAMPLE_RATE, seed=8, level_db=-28)
    first, clip_a = await analyse(audio)
    second, clip_b = await analyse(audio, LocalEngine())
    assert [_without_clock(v) for v in first] == [_without_clock(v) for v in second]
    assert clip_a == clip_b


def test_decoder_artefacts_keeps_shape_and_is_deterministic() -> None:
    stereo = np.stack([synthetic_music(2, 9)] * 2, axis=1)
    out = decoder_artefacts(stereo, SAMPLE_RATE, strides=(4, 4, 2), seed=1, level_db=-20)
    assert out.shape == stereo.shape and out.dtype == np.float32
    assert np.array_equal(out, decoder_artefacts(stereo, SAMPLE_RATE, strides=(4, 4, 2), seed=1, level_db=-20))
    added = out - stereo
    ratio_db = 10 * np.log10(np.mean(added**2) / np.mean(stereo**2))
    assert ratio_db == pytest.approx(-20, abs=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rate": 0}, "sample rate"), ({"strides": ()}, "strides"), ({"strides": (512, 512)}, "at least")],
)
def test_decoder_artefacts_rejects_bad_input(kwargs: dict, message: str) -> None:
    args = {"samples": np.zeros(1000, dtype=np.float32), "rate": SAMPLE_RATE} | kwargs
    with pytest.raises(ValueError, match=message):
        decoder_artefacts(**args)


def test_the_shipped_model_loads_with_a_version() -> None:
    assert re.fullmatch(r"local-fp-\d+\+local-content-\d+\+local-jitter-\d+", LocalEngine().model_version)


@pytest.mark.parametrize(
    "option, shipped, what",
    [("model_path", DEFAULT_PATH, "local engine model"), ("content_path", CONTENT_PATH, "content model"),
     ("jitter_path", JITTER_PATH, "envelope-jitter model")],
)  # fmt: skip
@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"not a zip at all", lambda b: b""])
def test_a_corrupted_model_file_is_rejected_clearly(tmp_path, option, shipped, what, damage) -> None:
    broken = tmp_path / shipped.name
    broken.write_bytes(damage(shipped.read_bytes()))
    with pytest.raises(ModelError, match=f"{what} .* corrupted or incomplete"):
        LocalEngine(**{option: broken})


def test_a_model_for_another_feature_layout_is_rejected(tmp_path) -> None:
    engine = LocalEngine()
    model = engine._scorer.model
    other = tmp_path / "other.npz"
    dataclasses.replace(model, coef=model.coef[:-5]).save(other)
    with pytest.raises(ModelError, match="expected"):
        LocalEngine(model_path=other)


def test_scoring_gives_the_logit_of_the_features_the_model_was_trained_on() -> None:
    # Scoring folds the residual's local mean into the weights; training builds the features.
    model = LocalEngine()._scorer.model
    rng = np.random.default_rng(0)
    for windows in (1.0, 4.0, 30.0):
        residual = np.clip(rng.exponential(1.0, len(band_hz())) * rng.uniform(0.1, 3.0), 0.0, RESIDUAL_CLIP_DB)
        comb_z = rng.normal(0.0, 3.0, len(model.grids_hz))
        trained = features(residual, comb_z).astype(np.float64) @ model.coef.astype(np.float64) + model.intercept
        offset = np.interp(np.log2(windows), np.log2(model.offset_windows), model.offsets)
        assert model.logit(residual, comb_z, windows) == pytest.approx(trained - offset, abs=1e-5)


def test_the_local_detail_ignores_a_band_full_of_peaks_but_keeps_a_lone_one() -> None:
    flat = np.full(len(band_hz()), 4.0)
    assert np.abs(local_detail(flat)).max() < 1e-12
    lone = np.zeros(len(band_hz()))
    lone[1000] = RESIDUAL_CLIP_DB
    assert local_detail(lone)[1000] > 0.95 * RESIDUAL_CLIP_DB


def test_a_model_trained_on_another_residual_is_rejected(tmp_path) -> None:
    # Same number of weights, different features: it would load silently and score nonsense.
    model = LocalEngine()._scorer.model
    other = tmp_path / "other.npz"
    dataclasses.replace(model, local_mean_bins=model.local_mean_bins + 2).save(other)
    with pytest.raises(ModelError, match="local mean over"):
        LocalEngine(model_path=other)


def test_a_missing_model_file_says_how_to_rebuild_it(tmp_path) -> None:
    with pytest.raises(ModelError, match="train_local.py"):
        LocalEngine(model_path=tmp_path / "absent.npz")


def test_a_content_model_for_other_features_is_rejected(tmp_path) -> None:
    model = ContentModel.load()
    other = tmp_path / "content.npz"
    dataclasses.replace(model, coef=model.coef[:, :-1]).save(other)
    with pytest.raises(ModelError, match="expected two heads"):
        LocalEngine(content_path=other)
