"""PngStream: bands of rows compressed as they come, one valid PNG at the end."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from streamer.report.png_stream import PngStream


def test_bands_stack_into_one_png_with_the_same_pixels() -> None:
    rng = np.random.default_rng(7)
    bands = [rng.integers(0, 256, (height, 9, 3), dtype=np.uint8) for height in (3, 1, 5)]
    stream = PngStream()
    for band in bands:
        stream.add(band)
    data = stream.finish()
    assert stream.bands == 3
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # chunk CRCs and structure
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (9, 9))
        assert np.array_equal(np.asarray(image), np.concatenate(bands))


def test_a_band_of_another_width_or_kind_is_refused() -> None:
    stream = PngStream()
    stream.add(np.zeros((2, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="5 pixels wide cannot go below bands 4 wide"):
        stream.add(np.zeros((2, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="must be RGB uint8"):
        stream.add(np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="must be RGB uint8"):
        stream.add(np.zeros((2, 4, 3), np.float32))
    assert stream.bands == 1


def test_an_image_needs_a_band() -> None:
    with pytest.raises(ValueError, match="at least one band"):
        PngStream().finish()
