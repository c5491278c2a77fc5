"""Service mode (``aimd run -c aimd.yaml``): many sources from one config, each supervised.

config (models) → loader (YAML + environment) → runner (one pipeline per source)
→ supervised (I/O loop) around machine (pure state machine); app wires signals.
"""
