"""The CPU-bound part of a job: decode both recordings, compare them, build the result or the failure."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.reference_analysis import outcomes
from application.reference_analysis.outcomes import Completed, Failure, Outcome, Subject
from application.reference_analysis.ports import AudioDecoder, DecodedSignal, StageCallback
from domain.audio import AudioTooLongError, UndecodableAudioError
from domain.catalog import Word
from domain.voice import FeatureConfig, VoiceAnalysisError, WordTiming, compare


@dataclass(frozen=True, slots=True)
class AudioAnalysis:
    """Everything one comparison needs, as plain data, so a runner may ship it to another process.

    Calling it returns an Outcome and raises nothing a recording can cause: bad audio, silence and
    audio the comparison cannot use all become failures with a message for the user. Both recordings
    are compared over the band the narrower of them carries.
    """

    recording: bytes
    reference: bytes
    words: tuple[Word, ...]
    decoder: AudioDecoder
    max_seconds: float
    config: FeatureConfig = field(default_factory=FeatureConfig)

    def __call__(self, on_stage: StageCallback) -> Outcome:
        on_stage("decoding")
        decoded = self._decode_both(self.config.sample_rate)
        if isinstance(decoded, Failure):
            return decoded
        band = min(decoded[0].bandwidth_hz, decoded[1].bandwidth_hz)
        if band < self.config.sample_rate / 2:
            # A recording made through a narrower channel (a phone's AMR-NB) lacks the reference's upper
            # band; compared over the full band, that gap would count as mispronunciation.
            decoded = self._decode_both(round(2 * band))
            if isinstance(decoded, Failure):
                return decoded
        user, reference = decoded
        timings = [WordTiming(word.text, word.start, word.end) for word in self.words]
        try:
            result = compare(
                user.samples,
                reference.samples,
                user.sample_rate,
                timings,
                self.config,
                on_stage=lambda stage: on_stage(stage.value),
            )
        except VoiceAnalysisError as error:
            return outcomes.voice_failure(error)
        return Completed(
            outcomes.result_document(result, self.words, user.duration_seconds, reference.duration_seconds)
        )

    def _decode_both(self, sample_rate: int) -> tuple[DecodedSignal, DecodedSignal] | Failure:
        user = self._decode(self.recording, "user", sample_rate)
        if isinstance(user, Failure):
            return user
        reference = self._decode(self.reference, "reference", sample_rate)
        if isinstance(reference, Failure):
            return reference
        return user, reference

    def _decode(self, data: bytes, subject: Subject, sample_rate: int) -> DecodedSignal | Failure:
        try:
            return self.decoder.decode(data, sample_rate, self.max_seconds)
        except AudioTooLongError as error:
            return outcomes.too_long(subject, error.limit_seconds)
        except UndecodableAudioError:
            return outcomes.undecodable(subject)
