"""Nomad Muse Edge: the runtime side (pipeline, modules at inference time, CLI)."""

__version__ = "0.1.0"
