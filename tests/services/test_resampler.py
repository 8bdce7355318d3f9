"""The streaming resampler keeps lengths, energy and frequency, block after block."""

from __future__ import annotations

import numpy as np
import pytest

from src.services.halfband import DELAY_SAMPLES_48K
from src.services.resampler import Resampler, array_to_pcm16, pcm16_to_array


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def stream_through(resampler: Resampler, signal: np.ndarray, block: int) -> np.ndarray:
    parts = [resampler.process(signal[i : i + block]) for i in range(0, len(signal), block)]
    parts.append(resampler.flush())
    return np.concatenate(parts)


def peak_frequency(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal.astype(np.float64) * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[int(np.argmax(spectrum))])


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal.astype(np.float64) ** 2)))


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "block"),
    [(24_000, 48_000, 480), (48_000, 24_000, 480), (44_100, 48_000, 441), (48_000, 44_100, 480)],
)
def test_streamed_length_matches_the_rate_ratio(in_rate: int, out_rate: int, block: int) -> None:
    signal = sine(440, in_rate, 1.0)
    resampler = Resampler(in_rate, out_rate)
    out = stream_through(resampler, signal, block)
    # The 2:1 half-band path hands out its filter delay as leading samples (soxr trims it).
    delay = 0
    if in_rate == 2 * out_rate or out_rate == 2 * in_rate:
        delay = DELAY_SAMPLES_48K * out_rate // 48_000
    assert abs(len(out) - resampler.expected_out(len(signal)) - delay) <= 1
    assert resampler.samples_in == len(signal)
    assert resampler.samples_out == len(out)


def test_a_1khz_sine_keeps_its_frequency_and_energy_from_24k_to_48k() -> None:
    signal = sine(1000, 24_000, 1.0)
    out = stream_through(Resampler(24_000, 48_000), signal, 480)
    middle = out[4800:-4800]  # away from the filter's edges
    assert peak_frequency(middle, 48_000) == pytest.approx(1000, abs=2)
    assert 20 * np.log10(rms(middle) / rms(signal)) == pytest.approx(0, abs=0.2)


def test_downsampling_to_the_realtime_rate_keeps_speech_band_tones() -> None:
    signal = sine(3000, 48_000, 0.5)
    out = stream_through(Resampler(48_000, 24_000), signal, 480)
    assert peak_frequency(out[2400:-2400], 24_000) == pytest.approx(3000, abs=3)


def test_blocks_join_without_clicks() -> None:
    """Resampling in 10 ms blocks must equal resampling the whole stretch at once."""
    signal = sine(700, 24_000, 0.5)
    whole = stream_through(Resampler(24_000, 48_000), signal, len(signal))
    blocks = stream_through(Resampler(24_000, 48_000), signal, 240)
    assert len(whole) == len(blocks)
    # int16 rounding may differ by a step or two; a click would be thousands
    assert np.max(np.abs(whole.astype(int) - blocks.astype(int))) <= 8


def test_identical_rates_pass_blocks_through_untouched() -> None:
    resampler = Resampler(48_000, 48_000)
    block = sine(440, 48_000, 0.01)
    out = resampler.process(block)
    assert resampler.is_identity
    assert np.array_equal(out, block)
    assert out is not block
    assert len(resampler.flush()) == 0


def test_reset_forgets_buffered_audio() -> None:
    resampler = Resampler(24_000, 48_000)
    resampler.process(sine(440, 24_000, 0.1))
    resampler.reset()
    assert resampler.samples_in == 0
    assert np.count_nonzero(resampler.flush()) == 0


def test_wrong_sample_format_is_refused() -> None:
    resampler = Resampler(24_000, 48_000)
    with pytest.raises(ValueError, match="int16"):
        resampler.process(np.zeros(480, dtype=np.float32))
    with pytest.raises(ValueError, match="positive"):
        Resampler(0, 48_000)


def test_pcm16_bytes_round_trip() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    data = array_to_pcm16(samples)
    assert data == b"\x00\x00\x01\x00\xff\xff\xff\x7f\x00\x80"
    assert np.array_equal(pcm16_to_array(data), samples)
    with pytest.raises(ValueError, match="even"):
        pcm16_to_array(b"\x00")
