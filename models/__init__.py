"""Shipped model artifacts (ONNX/IR) and their model cards (``*.json``).

This is a package only so the files travel inside the wheel; locate them with
:func:`nomad_muse.paths.models_dir`.
"""
