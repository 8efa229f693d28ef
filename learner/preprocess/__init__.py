"""Preprocessing per modality: arrays in, model inputs out. No torch here; librosa, OpenCV and
SciPy load on first use, so importing this package stays cheap."""

from learner.preprocess.audio import AudioConfig, logmel, logmel_batch, read_segment
from learner.preprocess.crop import augment_crop, crop_tensor, decode_and_prepare
from learner.preprocess.spectrum import SpectrumConfig, preprocess_spectra, preprocess_spectrum

__all__ = [
    "AudioConfig",
    "SpectrumConfig",
    "augment_crop",
    "crop_tensor",
    "decode_and_prepare",
    "logmel",
    "logmel_batch",
    "preprocess_spectra",
    "preprocess_spectrum",
    "read_segment",
]
