"""Training side (torch, `training` extra): models, data loaders, training scripts.

Nothing under ``edge_runtime`` or ``backends`` may import this package.
"""
