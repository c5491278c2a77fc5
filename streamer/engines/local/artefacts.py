"""Make decoder-style artefacts from clean audio: a random-weight transposed-convolution decoder.

A transposed convolution with stride s inserts s−1 zeros between samples, which
copies whatever DC its input carries (biases, ELU offsets) to multiples of the
layer's input rate. Stacked layers leave peaks on the grid rate/∏strides whatever
the weights are (detection-science.md §5), so random weights are enough to
synthesise positives without any generator.
"""

from __future__ import annotations

import numpy as np

CHANNELS = 8


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def _transposed_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """ConvTranspose1d with kernel 2·stride, in polyphase form.

    Output sample m·stride + r receives tap r from input m and tap r + stride from
    input m − 1, so each phase is two (out, in) @ (in, time) products.
    """
    c_out, _, _ = weight.shape
    previous = np.pad(x, ((0, 0), (1, 0)))[:, :-1]
    out = np.empty((c_out, x.shape[1], stride))
    for r in range(stride):
        out[:, :, r] = weight[:, :, r] @ x + weight[:, :, r + stride] @ previous
    return out.reshape(c_out, -1) + bias[:, None]


def decoder_artefacts(
    samples: np.ndarray,
    rate: int,
    strides: tuple[int, ...] = (8, 5, 4, 2),
    seed: int = 0,
    level_db: float = -20.0,
) -> np.ndarray:
    """Return ``samples`` plus a random decoder's reconstruction of them, ``level_db`` below their RMS.

    ``samples`` is float (frames,) or (frames, channels) at ``rate`` Hz; the
    decoder runs at that rate, so its peaks land on multiples of rate/∏strides
    (e.g. 44100/40 = 1102.5 Hz for the Encodec-like default). The result has the
    input's shape and dtype. Deterministic for a given seed.
    """
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    if not strides or min(strides) < 1:
        raise ValueError(f"strides must be positive integers, got {strides}")
    data = np.asarray(samples)
    mono = data.mean(axis=1) if data.ndim == 2 else data
    hop = int(np.prod(strides))
    if mono.shape[0] < hop:
        raise ValueError(f"need at least {hop} samples for strides {strides}")
    rng = np.random.default_rng(seed)

    # Encoder: one random projection per hop-sized frame gives the latent sequence.
    usable = mono.shape[0] // hop * hop
    frames = mono[:usable].astype(np.float64).reshape(-1, hop)
    latent = _elu(rng.standard_normal((CHANNELS, hop)) / np.sqrt(hop) @ frames.T)

    for stride in strides:
        weight = rng.standard_normal((CHANNELS, CHANNELS, 2 * stride)) / np.sqrt(CHANNELS * 2)
        bias = 0.1 * rng.standard_normal(CHANNELS)
        latent = _elu(_transposed_conv(latent, weight, bias, stride))
    decoded = rng.standard_normal(CHANNELS) / np.sqrt(CHANNELS) @ latent
    decoded -= decoded.mean()

    artefact = np.zeros(mono.shape[0])
    artefact[:usable] = decoded
    input_rms = np.sqrt(np.mean(mono.astype(np.float64) ** 2))
    artefact_rms = np.sqrt(np.mean(artefact**2))
    if input_rms == 0 or artefact_rms == 0:
        return data.copy()
    artefact *= input_rms * 10.0 ** (level_db / 20.0) / artefact_rms
    mixed = data + (artefact[:, None] if data.ndim == 2 else artefact)
    return mixed.astype(data.dtype, copy=False)
