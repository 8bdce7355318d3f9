"""The 2:1 half-band resamplers: speech passes, aliases and images are rejected, no lag."""

from __future__ import annotations

import numpy as np
import pytest

from src.services.halfband import DELAY_SAMPLES_48K, Downsampler2, Upsampler2


def tone(freq: float, rate: int, seconds: float = 0.5, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level_db(signal: np.ndarray, reference: np.ndarray) -> float:
    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-9

    return 20 * np.log10(rms(signal) / rms(reference))


def band_db(signal: np.ndarray, rate: int, freq: float, reference: np.ndarray) -> float:
    """Level of ``signal`` near ``freq`` (a narrow FFT band) relative to ``reference``'s RMS."""
    window = np.hanning(len(signal))
    spectrum = np.abs(np.fft.rfft(signal.astype(np.float64) * window))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    near = np.abs(freqs - freq) < 50
    ref = np.abs(np.fft.rfft(reference.astype(np.float64) * np.hanning(len(reference)))).max()
    return 20 * np.log10(spectrum[near].max() / ref + 1e-12)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 4000.0, 8000.0])
def test_speech_frequencies_pass_both_ways(freq: float) -> None:
    high = tone(freq, 48_000)
    low = Downsampler2().process(high)
    assert len(low) == len(high) // 2
    assert level_db(low[400:], high) == pytest.approx(0, abs=0.5)
    back = Upsampler2().process(low)
    assert level_db(back[800:], high) == pytest.approx(0, abs=0.8)


def test_downsampling_rejects_what_would_alias() -> None:
    high = tone(18_000, 48_000)  # would fold onto 6 kHz at 24 kHz
    low = Downsampler2().process(high)
    assert band_db(low[400:], 24_000, 6_000, high) < -60


def test_upsampling_rejects_the_mirror_image() -> None:
    low = tone(3_000, 24_000)
    high = Upsampler2().process(low)
    assert band_db(high[800:], 48_000, 21_000, high[800:]) < -60


def test_the_delay_is_under_half_a_millisecond() -> None:
    impulse = np.zeros(480, dtype=np.int16)
    impulse[0] = 16_000
    out = Upsampler2().process(impulse)
    assert int(np.argmax(np.abs(out))) == DELAY_SAMPLES_48K
    assert DELAY_SAMPLES_48K / 48_000 < 0.0005


@pytest.mark.parametrize("make", [Downsampler2, Upsampler2])
def test_any_block_sizes_give_the_same_stream(make: type) -> None:
    rng = np.random.default_rng(3)
    signal = (rng.standard_normal(9_601) * 4000).astype(np.int16)
    whole = make().process(signal)
    streamed, at, piece = [], 0, make()
    while at < len(signal):
        size = int(rng.integers(1, 700))
        streamed.append(piece.process(signal[at : at + size]))
        at += size
    assert np.array_equal(np.concatenate(streamed), whole)


def test_flush_returns_the_tail_and_starts_fresh() -> None:
    up = Upsampler2()
    body = up.process(tone(1000, 24_000, 0.1))
    tail = up.flush()
    assert len(body) + len(tail) == 2 * 2400 + DELAY_SAMPLES_48K
    assert np.abs(tail).max() > 0
    assert np.array_equal(up.process(np.zeros(10, dtype=np.int16)), np.zeros(20, dtype=np.int16))
