"""Small helpers shared across stages (atomic writes, hashing, how numbers are printed)."""
