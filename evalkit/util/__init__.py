"""Small helpers shared across stages (atomic writes, hashing)."""
