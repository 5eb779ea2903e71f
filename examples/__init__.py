"""Examples of migo as a library: each runs as a script and is importable (the tests do).

Point them at APIMIGO with ``MIGO_TOKEN`` (and ``MIGO_BASE_URL`` for the simulator:
``migo simulador`` in another terminal, then ``MIGO_BASE_URL=http://127.0.0.1:8787
MIGO_TOKEN=prueba python -m examples.basico``).
"""
