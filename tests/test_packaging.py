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
            assert f"shopqa/prompts/{prompt.name}" in names
    for data in (ROOT / "app" / "data").iterdir():
        assert f"shopqa/data/{data.name}" in names
    assert {"shopqa/web/openapi.json", "shopqa/web/templates/chat.html", "shopqa/web/static/chat.js",
            "shopqa/ingest/pipeline.py"} <= names
    # One import name: nothing but shopqa (and its metadata) at the top of the wheel, so installing
    # it cannot shadow another distribution's `app` or `ingest`.
    assert {n.split("/")[0] for n in names} == {"shopqa", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1]
                                                + ".dist-info"}
    # The installed package finds its prompts inside itself, not in a checkout beside it.
    code = ("from shopqa.text.prompts import Prompts; from shopqa.paths import PROMPTS; "
            "print(PROMPTS); print(Prompts().message('abstain', 'en'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}).stdout
    assert out.splitlines()[0].startswith(str(tmp_path / "site")) and out.splitlines()[1]
