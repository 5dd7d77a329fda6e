"""Reaching models: the LiteLLM client and its cache, the embedded llama.cpp server (and its
portable build), callable systems under test, embeddings and prompt rendering.

Modules whose names start with ``_`` are evalkit's implementation, not its API: import
from :mod:`evalkit` instead.
"""
