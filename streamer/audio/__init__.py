"""Audio capture and decoding: every source yields canonical PCM blocks."""
