"""Copy the page walk's screenshots into ``docs/screenshots`` for the README.

Not a test: run it after ``tests/e2e/test_page_walk.py``, which saves every page in
both languages into ``$SKYBERTH_SHOTS_DIR/walk`` (default ``/tmp/skyberth-shots``)::

    .venv/bin/pytest tests/e2e/test_page_walk.py
    .venv/bin/python -m tests.e2e.readme_screenshots

The PNGs are committed, so each is reduced to a 256-colour palette (a page's flat
colours and text survive it; the login page's gradient bands a little): a tenth
to a third of the browser's file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from tests.e2e.conftest import SHOTS_DIR, SOURCE_ROOT
from tests.e2e.test_page_walk import PAGES, ZH

TARGET = SOURCE_ROOT / "docs" / "screenshots"
LANGUAGES = ("en", ZH)


def shrink(source: Path, target: Path) -> int:
    """Write ``source`` to ``target`` as a palette PNG; return its size in bytes."""
    with Image.open(source) as shot:
        palette = shot.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    palette.save(target, optimize=True)
    return target.stat().st_size


def main(argv: list[str] | None = None) -> int:
    """Copy every page's screenshot in both languages; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SHOTS_DIR / "walk")
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    names = [f"{page}-{language}.png" for page in PAGES for language in LANGUAGES]
    missing = [n for n in names if not (args.source / n).is_file()]
    if missing:
        sys.stderr.write(f"not in {args.source}: {', '.join(missing)}\n")
        return 1
    for name in names:
        size = shrink(args.source / name, args.target / name)
        sys.stdout.write(f"{args.target / name}: {size / 1024:.0f} KiB\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
