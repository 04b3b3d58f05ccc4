#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Streams one generation from mot-server and writes images/audio to files.

    python examples/generate.py --server 127.0.0.1:50051 "Describe:" cat.png
    python examples/generate.py --modalities image --force-image "a red circle"
    python examples/generate.py --use-async "hello"

Arguments ending in an image/audio extension are sent as files, the rest as text, in order.
"""
import argparse
import asyncio
import os
import sys

from mot_client import (AsyncClient, Audio, Client, Finished, GeneratedAudio, GeneratedImage,
                        Image, ImageProgress, MotError, TextDelta)

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
AUDIO_EXT = (".wav", ".flac", ".ogg")


def parts_of(args):
    parts = []
    for a in args:
        low = a.lower()
        if low.endswith(IMAGE_EXT) and os.path.exists(a):
            parts.append(Image.from_file(a))
        elif low.endswith(AUDIO_EXT) and os.path.exists(a):
            parts.append(Audio.from_file(a))
        else:
            parts.append(a)
    return parts


def handle(ev, out_dir):
    if isinstance(ev, TextDelta):
        print(ev.text, end="", flush=True)
    elif isinstance(ev, ImageProgress):
        # A live counter on a terminal; in a log, only the last line.
        if sys.stderr.isatty() or ev.codes_done == ev.total_codes:
            print(f"\rimage {ev.index}: {ev.codes_done}/{ev.total_codes} codes", end="",
                  file=sys.stderr)
    elif isinstance(ev, GeneratedImage):
        path = os.path.join(out_dir, f"image-{ev.index}.png")
        with open(path, "wb") as f:
            f.write(ev.png)
        print(f"\nwrote {path}", file=sys.stderr)
    elif isinstance(ev, GeneratedAudio):
        path = os.path.join(out_dir, f"audio-{ev.index}.wav")
        with open(path, "wb") as f:
            f.write(ev.wav)
        print(f"\nwrote {path}", file=sys.stderr)
    elif isinstance(ev, Finished):
        print(f"\n[{ev.reason}]", file=sys.stderr)


async def run_async(a, parts, kwargs):
    async with AsyncClient(a.server) as client:
        async for ev in client.generate(parts, **kwargs):
            handle(ev, a.out_dir)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("parts", nargs="+")
    p.add_argument("--server", default="127.0.0.1:50051")
    p.add_argument("--modalities", default="text")
    p.add_argument("--force-image", action="store_true")
    p.add_argument("--force-audio", action="store_true")
    p.add_argument("--max-new-tokens", type=int, default=0)
    p.add_argument("--temperature", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--out-dir", default=".")
    p.add_argument("--use-async", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    kwargs = dict(modalities=a.modalities.split(","), force_image=a.force_image,
                  force_audio=a.force_audio, max_new_tokens=a.max_new_tokens,
                  temperature=a.temperature, seed=a.seed)
    parts = parts_of(a.parts)
    try:
        if a.use_async:
            asyncio.run(run_async(a, parts, kwargs))
        else:
            with Client(a.server) as client:
                for ev in client.generate(parts, **kwargs):
                    handle(ev, a.out_dir)
    except MotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
