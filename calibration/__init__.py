"""Calibration: NNCF INT8 variants with an accuracy gate, FFTW wisdom, auto-tuner (issue 7)."""
