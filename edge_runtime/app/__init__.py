"""The app layer: the ``muse`` command line and the headless supervisor (``muse serve``).

Top of the house: it may import every layer below; nothing imports it (see
docs/ARCHITECTURE.md and the contracts in ``.importlinter``).
"""
