"""Preprocessing per modality: arrays in, model inputs out. No torch here."""
