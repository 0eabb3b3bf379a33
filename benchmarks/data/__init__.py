"""Datasets for the benchmark: a General-MIDI music-tagging set rendered locally, MagnaTagATune."""
