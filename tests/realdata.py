"""Where the real CLEVRER sample lives: ``shared/`` beside the repository's root."""

from pathlib import Path

REAL_QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clevrer_real" / "train-orig-small.json"
