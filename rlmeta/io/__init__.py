"""Readers and writers (the sweep reader lives in :mod:`rlmeta.io.sweeps`)."""
