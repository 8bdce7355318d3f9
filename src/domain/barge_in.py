"""Barge-in policy: when the user's voice should cut the assistant off, and when it should not.

Two demands pull apart: playback must fall silent within one audio block of the user starting
to talk, yet a "mhm" or a cough must not end the assistant's answer. So the decision is made in
two steps. Speech onset while the assistant is audible *pauses* playback at once (nothing is
thrown away). If the speech goes on long enough to be a real turn, the interruption is
*confirmed*: playback is flushed, the response cancelled and the assistant's item truncated at
what was heard. If it stops early, it was a backchannel or a noise: playback *resumes* where it
paused. The detector is pure: it counts frames, and time is frames times the frame length.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BargeInAction(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    INTERRUPT = "interrupt"


@dataclass(frozen=True)
class BargeInSettings:
    """Thresholds in milliseconds of audio (not wall-clock time)."""

    onset_ms: int = 40
    """Continuous speech needed before playback pauses (filters clicks and single frames)."""
    confirm_ms: int = 450
    """Speech, counted while paused, that makes the interruption real."""
    release_ms: int = 300
    """Silence while paused after which the speech is judged a backchannel and playback resumes."""

    def __post_init__(self) -> None:
        if not 0 < self.onset_ms <= self.confirm_ms:
            raise ValueError("need 0 < onset_ms <= confirm_ms")
        if self.release_ms <= 0:
            raise ValueError("release_ms must be positive")


class BargeInDetector:
    """Feed one VAD decision per frame; act on the action it returns, if any."""

    def __init__(self, settings: BargeInSettings | None = None, frame_ms: int = 10) -> None:
        if frame_ms <= 0:
            raise ValueError("frame_ms must be positive")
        self.settings = settings or BargeInSettings()
        self.frame_ms = frame_ms
        self._paused = False
        self._onset_run = 0
        self._speech_ms = 0
        self._silence_run = 0
        self._rearm = False

    @property
    def paused(self) -> bool:
        return self._paused

    def reset(self) -> None:
        self._paused = False
        self._onset_run = self._speech_ms = self._silence_run = 0

    def on_frame(self, speech: bool, assistant_audible: bool) -> BargeInAction | None:
        if not self._paused:
            return self._watch(speech, assistant_audible)
        return self._judge(speech)

    def _watch(self, speech: bool, assistant_audible: bool) -> BargeInAction | None:
        if self._rearm:
            # The speech that interrupted is the user's turn: watch again once it pauses.
            self._rearm = speech
            return None
        if not (speech and assistant_audible):
            self._onset_run = 0
            return None
        self._onset_run += self.frame_ms
        if self._onset_run < self.settings.onset_ms:
            return None
        self._paused = True
        self._speech_ms = self._onset_run
        self._silence_run = 0
        return BargeInAction.PAUSE

    def _judge(self, speech: bool) -> BargeInAction | None:
        if speech:
            self._speech_ms += self.frame_ms
            self._silence_run = 0
            if self._speech_ms >= self.settings.confirm_ms:
                self.reset()
                self._rearm = True
                return BargeInAction.INTERRUPT
            return None
        self._silence_run += self.frame_ms
        if self._silence_run >= self.settings.release_ms:
            self.reset()
            return BargeInAction.RESUME
        return None
