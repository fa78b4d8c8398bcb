"""Sound tests need Chromaprint's fpcalc (Debian package libchromaprint-tools) besides ffmpeg."""

from __future__ import annotations

import shutil

import pytest

from tests.support.settings import require


@pytest.fixture(autouse=True)
def fpcalc() -> None:
    require(shutil.which("fpcalc") is not None, "fpcalc is not installed (apt-get install libchromaprint-tools)")
