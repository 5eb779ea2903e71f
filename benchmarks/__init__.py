"""``make bench``: migo against the simulator on loopback; every check names its divisor.

``python -m benchmarks [FIGURE ...] [--quick] [--profile]``; see ``benchmarks.run``.
Not part of ``make test``: a full run takes minutes and needs both cores.
"""
