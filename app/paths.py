"""Where the package's bundled data (app/data) and the prompt files (prompts/) live."""
from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parent
DATA = APP / "data"
PROMPTS = APP / "prompts"  # a link to the top-level prompts/ in a checkout, a folder once installed
