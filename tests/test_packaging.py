"""A non-editable install carries everything the service reads: prompts, fitted data, pages."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_carries_prompts_data_and_pages(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp_path)], check=True, cwd=tmp_path, capture_output=True)
    wheel = next(tmp_path.glob("shopqa-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "site")
    for prompt in (ROOT / "prompts").iterdir():
        if prompt.suffix in (".txt", ".toml"):
            assert f"app/prompts/{prompt.name}" in names
    for data in (ROOT / "app" / "data").iterdir():
        assert f"app/data/{data.name}" in names
    assert {"app/web/openapi.json", "app/web/templates/chat.html", "app/web/static/chat.js"} <= names
    # The installed package finds its prompts inside itself, not in a checkout beside it.
    code = ("from app.text.prompts import Prompts; from app.paths import PROMPTS; "
            "print(PROMPTS); print(Prompts().message('abstain', 'en'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}).stdout
    assert out.splitlines()[0].startswith(str(tmp_path / "site")) and out.splitlines()[1]
