# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Python client for mot-server (mot.v1.MotService).

    from mot_client import Client, Image
    with Client("127.0.0.1:50051") as c:
        for event in c.generate(["A photo of", Image.from_file("cat.png"), "Describe it."]):
            ...

Inputs: `str` (text), `Image`, `Audio` (bytes with an optional MIME type).
Events yielded: TextDelta, ImageStarted, ImageProgress, GeneratedImage, AudioStarted,
GeneratedAudio, Usage, Finished (always last). Failures raise MotError.
"""
from mot_client.client import (
    Audio,
    AsyncClient,
    AudioStarted,
    Client,
    Finished,
    GeneratedAudio,
    GeneratedImage,
    Image,
    ImageProgress,
    ImageStarted,
    MotError,
    TextDelta,
    Usage,
)

__all__ = [
    "Audio",
    "AsyncClient",
    "AudioStarted",
    "Client",
    "Finished",
    "GeneratedAudio",
    "GeneratedImage",
    "Image",
    "ImageProgress",
    "ImageStarted",
    "MotError",
    "TextDelta",
    "Usage",
]
