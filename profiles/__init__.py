"""Shipped profiles: genre target curves and the minimum-spec definition.

This is a package only so the files travel inside the wheel; locate them with
:func:`nomad_muse.paths.profiles_dir`.
"""
