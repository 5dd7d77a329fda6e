"""Shared test helpers: the fake OpenAI server, synthetic runs, browser and wheel helpers."""
