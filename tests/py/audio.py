"""Audio analysis shared by the test helpers (room_member.py, phone.py)."""

import numpy as np


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in `samples`, to a fraction of a bin (Hann window + parabola)."""
    windowed = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0.0
    peak = int(np.argmax(spectrum))
    if 0 < peak < len(spectrum) - 1:
        left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        offset = 0.5 * (left - right) / (left - 2 * centre + right)
    else:
        offset = 0.0
    return (peak + offset) * rate / len(samples)
