"""Seeded synthetic data for demos, tests and scale benchmarks: recordings with Audacity labels,
Raman spectra, and HDF5 stores of spatter crops. The same seed always gives the same files."""

from learner.synthetic.audio import AUDIO_CLASSES, write_recordings
from learner.synthetic.crops import CROP_CLASSES, render_crop, write_crop_store
from learner.synthetic.spectra import SPECTRUM_CLASSES, raman_spectrum, write_spectra

__all__ = [
    "AUDIO_CLASSES",
    "CROP_CLASSES",
    "SPECTRUM_CLASSES",
    "raman_spectrum",
    "render_crop",
    "write_crop_store",
    "write_recordings",
    "write_spectra",
]
