"""evalkit's pytest plugin (entry point ``pytest11: evalkit``).

Loaded by every pytest run in a project that has evalkit installed, so it must stay cheap:
heavy imports happen only inside hooks once a suite actually runs.
"""
