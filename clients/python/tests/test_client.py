# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of mot_client against a running mot-server at $MOT_SERVER (host:port).

They assert only what holds for any model: the stream ends with exactly one Finished,
text arrives as TextDelta, a bad input fails with INVALID_ARGUMENT naming the field, the
asyncio client sees what the blocking one sees. Skipped when MOT_SERVER is unset.
    MOT_SERVER=127.0.0.1:50051 python -m unittest discover -s clients/python/tests
"""
import asyncio
import os
import struct
import unittest

import grpc

from mot_client import AsyncClient, Client, Finished, Image, MotError, TextDelta

SERVER = os.environ.get("MOT_SERVER", "")


def png_with_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0" + b"Z" * 32


@unittest.skipUnless(SERVER, "set MOT_SERVER=host:port to run against a server")
class ClientTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(SERVER, timeout=60)

    def tearDown(self):
        self.client.close()

    def test_health_is_serving(self):
        self.assertEqual(self.client.health(), "SERVING")

    def test_generate_streams_text_and_finishes_once(self):
        events = list(self.client.generate(["hello world"], max_new_tokens=8, temperature=0,
                                           seed=1))
        self.assertIsInstance(events[-1], Finished)
        self.assertEqual(sum(isinstance(e, Finished) for e in events), 1)
        self.assertIn(events[-1].reason, ("stop", "length"))
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        self.assertIsInstance(text, str)

    def test_bad_input_names_the_field(self):
        with self.assertRaises(MotError) as ctx:
            list(self.client.generate(["look:", Image(png_with_header(0, 16))]))
        self.assertEqual(ctx.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("parts[1].image: width 0", ctx.exception.message)
        with self.assertRaises(MotError) as ctx:
            list(self.client.generate(["x"], top_p=1.5))
        self.assertIn("sampling.top_p", ctx.exception.message)

    def test_chat_needs_a_chat_template(self):
        # The test model has no tokenizer_config.json chat template: refused, naming the field.
        self.assertFalse(self.client.model_info().has_chat_template)
        with self.assertRaises(MotError) as ctx:
            list(self.client.chat([{"role": "user", "content": "hi"}]))
        self.assertEqual(ctx.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("messages: the model has no chat template", ctx.exception.message)
        with self.assertRaises(ValueError):
            list(self.client.chat([{"content": "no role"}]))

    def test_model_info_and_tokenize(self):
        info = self.client.model_info()
        self.assertIn("text", list(info.modalities))
        ids = self.client.tokenize(["hello"])
        self.assertGreater(len(ids), 1)
        self.assertTrue(all(0 <= i < info.vocab_size for i in ids))
        parts = self.client.detokenize(ids)
        self.assertEqual(parts, ["hello"])

    def test_closing_the_generator_early_is_clean(self):
        gen = self.client.generate(["hello"], max_new_tokens=8)
        first = next(gen)
        self.assertIsNotNone(first)
        gen.close()
        self.assertEqual(self.client.health(), "SERVING")

    def test_async_client_matches_the_blocking_one(self):
        kwargs = dict(max_new_tokens=8, temperature=0, seed=3)
        sync_text = "".join(e.text for e in self.client.generate(["hello there"], **kwargs)
                            if isinstance(e, TextDelta))

        async def run():
            async with AsyncClient(SERVER, timeout=60) as c:
                self.assertEqual(await c.health(), "SERVING")
                out = []
                async for e in c.generate(["hello there"], **kwargs):
                    out.append(e)
                return out

        events = asyncio.run(run())
        self.assertIsInstance(events[-1], Finished)
        self.assertEqual("".join(e.text for e in events if isinstance(e, TextDelta)), sync_text)


class OfflineTest(unittest.TestCase):
    def test_unreachable_server_raises_unavailable(self):
        with Client("127.0.0.1:1", timeout=5) as c:
            with self.assertRaises(MotError) as ctx:
                c.health()
        self.assertEqual(ctx.exception.code, grpc.StatusCode.UNAVAILABLE)

    def test_unknown_modality_is_refused_before_sending(self):
        from mot_client.client import build_request
        with self.assertRaises(ValueError):
            build_request(["x"], modalities=["smell"])
        req = build_request(["a", Image(b"\x89PNG", "image/png")], force_image=True, seed=0,
                            temperature=0)
        self.assertEqual(len(req.parts), 2)
        self.assertTrue(req.sampling.HasField("temperature"))
        self.assertTrue(req.sampling.HasField("seed"))
        self.assertTrue(req.image.force_start)
        self.assertEqual(len(req.output_modalities), 2)


if __name__ == "__main__":
    unittest.main()
