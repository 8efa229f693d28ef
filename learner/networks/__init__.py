"""Networks by name, per modality. Importing this package imports torch."""

from learner.networks import audio, crop, spectrum  # noqa: F401  (registers the models)
from learner.networks.device import pick_device
from learner.networks.registry import available, build, default_arch, modalities, register

__all__ = ["available", "build", "default_arch", "modalities", "pick_device", "register"]
