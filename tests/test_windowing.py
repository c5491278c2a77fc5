"""The windower cuts on stream time: chunking never changes the windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.types import SAMPLE_RATE, Gap, PcmBlock
from streamer.windowing import Windower

# Short windows keep the property tests fast; the logic does not depend on the length.
LENGTH_S = 0.01  # 441 frames


def _audio(frames: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (frames, channels)).astype(np.float32)


def _blocks(audio: np.ndarray, cuts: list[int], start: int = 0) -> list[PcmBlock]:
    edges = [0, *sorted({c for c in cuts if 0 < c < len(audio)}), len(audio)]
    return [PcmBlock(start + a, audio[a:b], captured_at=float(b)) for a, b in zip(edges, edges[1:])]


def _run(windower: Windower, events) -> list:
    out = []
    for event in events:
        out.extend(windower.feed(event))
    return out


@settings(max_examples=150, deadline=None)
@given(
    frames=st.integers(0, 5000),
    cuts=st.lists(st.integers(0, 5000), max_size=40),
    hop_factor=st.sampled_from([None, 0.5, 0.25, 1.5, 3.0]),
)
def test_any_chunking_gives_byte_identical_windows(frames, cuts, hop_factor):
    audio = _audio(frames)
    hop = None if hop_factor is None else LENGTH_S * hop_factor
    whole = _run(Windower(LENGTH_S, hop), _blocks(audio, []))
    chunked = _run(Windower(LENGTH_S, hop), _blocks(audio, cuts))
    assert [w.start_frame for w in chunked] == [w.start_frame for w in whole]
    assert [w.index for w in chunked] == list(range(len(whole)))
    for a, b in zip(whole, chunked):
        assert a.samples.tobytes() == b.samples.tobytes()


@settings(max_examples=60, deadline=None)
@given(frames=st.integers(0, 5000), hop_factor=st.sampled_from([None, 0.5, 1.5]))
def test_windows_hold_exactly_the_audio_at_their_stream_time(frames, hop_factor):
    audio = _audio(frames)
    windower = Windower(LENGTH_S, None if hop_factor is None else LENGTH_S * hop_factor)
    windows = _run(windower, _blocks(audio, list(range(0, frames, 97))))
    hop = windower.hop
    assert len(windows) == (0 if frames < windower.length else (frames - windower.length) // hop + 1)
    for w in windows:
        assert w.start_frame == w.index * hop
        np.testing.assert_array_equal(w.samples, audio[w.start_frame : w.end_frame])


def test_default_window_is_four_seconds_of_stream_time_with_no_overlap():
    windower = Windower()
    windows = _run(windower, _blocks(_audio(10 * SAMPLE_RATE, channels=1), [12345, 99999]))
    assert [(w.start_ms, w.end_ms) for w in windows] == [(0, 4000), (4000, 8000)]
    assert windower.pending_frames == 2 * SAMPLE_RATE  # the trailing 2 s get no window
    assert windower.frames_received == 10 * SAMPLE_RATE


def test_a_gap_is_never_glued_over_and_is_reported_on_the_next_window():
    windower = Windower(LENGTH_S)
    n = windower.length
    audio = _audio(3 * n)
    events = [
        PcmBlock(0, audio[: n + 100], 1.0),  # one window + 100 frames of a second
        Gap(n + 100, 50, "reconnect"),
        PcmBlock(n + 150, audio[n + 100 :], 2.0),
    ]
    windows = _run(windower, events)
    assert windows[0].start_frame == 0 and windows[0].gap_before_s == 0
    # The partial window before the gap is discarded; the next starts after the gap.
    assert windows[1].start_frame == n + 150
    assert windows[1].gap_before_s == pytest.approx(50 / SAMPLE_RATE)
    np.testing.assert_array_equal(windows[1].samples, audio[n + 100 : 2 * n + 100])
    assert windower.frames_lost == 50
    assert windower.frames_discarded == 100


def test_a_jump_in_stream_time_counts_as_a_gap_and_an_overlap_is_dropped():
    windower = Windower(LENGTH_S)
    n = windower.length
    audio = _audio(2 * n)
    windows = _run(windower, [PcmBlock(0, audio[:n], 0.0), PcmBlock(n + 10, audio[n:], 1.0)])
    assert windows[1].start_frame == n + 10 and windower.frames_lost == 10
    overlap = Windower(LENGTH_S)
    windows = _run(overlap, [PcmBlock(0, audio[:300], 0.0), PcmBlock(200, audio[200:n], 1.0)])
    np.testing.assert_array_equal(windows[0].samples, audio[:n])


def test_a_layout_change_mid_stream_keeps_the_first_layout():
    windower = Windower(LENGTH_S)
    n = windower.length
    stereo = _audio(n // 2, channels=2)
    mono = _audio(n, channels=1, seed=1)
    windows = _run(windower, [PcmBlock(0, stereo, 0.0), PcmBlock(n // 2, mono, 1.0)])
    assert windows[0].samples.shape == (n, 2)
    np.testing.assert_array_equal(windows[0].samples[n // 2 :, 0], mono[: n - n // 2, 0])


def test_window_captured_at_is_the_wall_clock_of_its_last_sample():
    windower = Windower(LENGTH_S)
    n = windower.length
    audio = _audio(2 * n)
    windows = _run(windower, [PcmBlock(0, audio[: n - 1], 10.0), PcmBlock(n - 1, audio[n - 1 :], 20.0)])
    assert windows[0].captured_at == 20.0


@pytest.mark.parametrize("length, hop", [(0, None), (1.0, 0.0), (-1.0, None)])
def test_rejects_non_positive_lengths(length, hop):
    with pytest.raises(ValueError):
        Windower(length, hop)
