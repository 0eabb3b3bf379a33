"""Make the README's pictures again: a taggram (``zoo.plot_taggram``) and a screenshot of the
``zoo-demo`` page, both of the same 40 s of rendered General-MIDI music.

    bash setup.sh test && .venv/bin/python docs/make_pictures.py      # writes docs/pictures/*.png

Needs fluidsynth and a GM soundfont (``bash setup.sh``), and for the screenshot Debian's chromium
and chromedriver with selenium (``bash setup.sh test``); the demo is driven as tests/test_demo.py
drives it. The pictures are stored with a palette of 128 colours, to stay small in the repository.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import soundfile as sf
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import zoo  # noqa: E402
from zoo.datasets.gm import render_clip  # noqa: E402
from zoo.datasets.gm_plan import plan_clip  # noqa: E402
from zoo.files import atomic_path  # noqa: E402
from zoo.tagging.taggram_plot import save_figure  # noqa: E402

PIECE_SEED, PIECE_PARTS, PART_SECONDS = 7, 4, 10.0  # four pieces whose tags differ: guitar, drums, choir
COLOURS = 128
WIDTH, TALL = 1000, 2000  # the screenshot's browser window


def render_music(folder):
    """40 s of music: four 10 s General-MIDI pieces of the benchmark's generator, one after the other."""
    parts = [sf.read(render_clip(plan_clip(PIECE_SEED, "test", i, PART_SECONDS), os.path.join(folder, f"{i}.flac")),
                     dtype="float32")[0] for i in range(PIECE_PARTS)]
    path = os.path.join(folder, "four GM pieces.flac")
    sf.write(path, np.concatenate(parts), 16000)
    return path


def store(png, path):
    """Write the PNG at ``png`` to ``path`` with a palette (atomically)."""
    with Image.open(png) as image:
        small = image.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic_path(path) as temporary:
        small.save(temporary, format="PNG", optimize=True)
    print(f"{os.path.relpath(path)}: {os.path.getsize(path) / 1000:.0f} kB")


def taggram_picture(music, folder, out):
    drawn = save_figure(zoo.plot_taggram(music, top=10, runtime="onnx"), os.path.join(folder, "taggram.png"))
    store(drawn, os.path.join(out, "taggram.png"))


def demo_screenshot(music, folder, out):
    from demo_browser import chromium, have_chromium, start_demo, stop_demo, upload

    if not have_chromium():
        sys.exit("the screenshot needs /usr/bin/chromium and /usr/bin/chromedriver: bash setup.sh test")
    process, url = start_demo(["--top-k", "8"], os.path.join(folder, "demo.log"))
    driver = chromium(os.path.join(folder, "chromium"), width=WIDTH, height=TALL)  # taller than the page
    try:
        driver.get(url)
        upload(driver, music)
        height = driver.execute_script("return Math.ceil(document.body.getBoundingClientRect().bottom)")
        driver.save_screenshot(os.path.join(folder, "demo.png"))
    finally:
        driver.quit()
        stop_demo(process)
    with Image.open(os.path.join(folder, "demo.png")) as shot:  # the page, without the empty window below it
        shot.crop((0, 0, shot.width, min(shot.height, height + 16))).save(os.path.join(folder, "page.png"))
    store(os.path.join(folder, "page.png"), os.path.join(out, "demo.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "pictures"), help="default: docs/pictures")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zoo-pictures-") as folder:
        music = render_music(folder)
        taggram_picture(music, folder, args.out)
        demo_screenshot(music, folder, args.out)


if __name__ == "__main__":
    main()
