# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Client and AsyncClient over the generated mot.v1 stubs.

Thread rule: a Client may be shared by threads (gRPC channels are thread-safe); an
AsyncClient belongs to the event loop it was created in.
"""
from __future__ import annotations

import dataclasses
import os
from typing import (AsyncIterator, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Union)

import grpc
from grpc import aio

from mot.v1 import mot_pb2, mot_pb2_grpc

_MODALITIES = {
    "text": mot_pb2.MODALITY_TEXT,
    "image": mot_pb2.MODALITY_IMAGE,
    "audio": mot_pb2.MODALITY_AUDIO,
}
_REASONS = {
    mot_pb2.FINISH_REASON_STOP: "stop",
    mot_pb2.FINISH_REASON_LENGTH: "length",
    mot_pb2.FINISH_REASON_CANCELLED: "cancelled",
    mot_pb2.FINISH_REASON_ERROR: "error",
}
_EXTENSION_MIME = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".bmp": "image/bmp", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
}


class MotError(Exception):
    """A failed call: `code` is the grpc.StatusCode, `message` the server's words (it names
    the field, e.g. "parts[1].image: width 0")."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


# ----- inputs -----

@dataclasses.dataclass
class Image:
    data: bytes
    mime_type: str = ""  # empty: the server recognises the format

    @classmethod
    def from_file(cls, path: str) -> "Image":
        with open(path, "rb") as f:
            return cls(f.read(), _EXTENSION_MIME.get(os.path.splitext(path)[1].lower(), ""))


@dataclasses.dataclass
class Audio:
    data: bytes
    mime_type: str = ""

    @classmethod
    def from_file(cls, path: str) -> "Audio":
        with open(path, "rb") as f:
            return cls(f.read(), _EXTENSION_MIME.get(os.path.splitext(path)[1].lower(), ""))


PartLike = Union[str, Image, Audio]


# ----- events -----

@dataclasses.dataclass
class TextDelta:
    text: str


@dataclasses.dataclass
class ImageStarted:
    index: int
    total_codes: int


@dataclasses.dataclass
class ImageProgress:
    index: int
    codes_done: int
    total_codes: int
    preview_png: bytes = b""


@dataclasses.dataclass
class GeneratedImage:
    index: int
    png: bytes
    token_ids: List[int]


@dataclasses.dataclass
class AudioStarted:
    index: int


@dataclasses.dataclass
class GeneratedAudio:
    index: int
    wav: bytes
    token_ids: List[int]


@dataclasses.dataclass
class Usage:
    # {"text": {"prompt_tokens": .., "generated_tokens": .., "cached_prompt_tokens": ..}, ...}
    by_modality: Dict[str, Dict[str, int]]


@dataclasses.dataclass
class Finished:
    request_id: str
    reason: str  # "stop", "length", "cancelled", "error"
    error_message: str = ""


Event = Union[TextDelta, ImageStarted, ImageProgress, GeneratedImage, AudioStarted,
              GeneratedAudio, Usage, Finished]


def _to_part(p: PartLike) -> mot_pb2.Part:
    if isinstance(p, str):
        return mot_pb2.Part(text=p)
    if isinstance(p, Image):
        return mot_pb2.Part(image=mot_pb2.Media(data=p.data, mime_type=p.mime_type))
    if isinstance(p, Audio):
        return mot_pb2.Part(audio=mot_pb2.Media(data=p.data, mime_type=p.mime_type))
    raise TypeError(f"a part is str, Image or Audio, not {type(p).__name__}")


def _to_messages(messages: Sequence[Mapping[str, str]]) -> List[mot_pb2.ChatMessage]:
    out = []
    for i, m in enumerate(messages):
        if "role" not in m or "content" not in m:
            raise ValueError(f"messages[{i}]: needs 'role' and 'content'")
        out.append(mot_pb2.ChatMessage(role=m["role"], content=m["content"]))
    return out


def build_request(parts: Sequence[PartLike], *, modalities: Iterable[str] = ("text",),
                  max_new_tokens: int = 0, temperature: Optional[float] = None,
                  top_p: Optional[float] = None, top_k: int = 0, seed: Optional[int] = None,
                  stop: Sequence[str] = (), force_image: bool = False,
                  force_audio: bool = False, preview_every: int = 0,
                  text_guidance: Optional[float] = None,
                  image_guidance: Optional[float] = None,
                  request_id: str = "",
                  messages: Sequence[Mapping[str, str]] = ()) -> mot_pb2.GenerateRequest:
    """The GenerateRequest for these arguments (unset values take the server's defaults).
    `messages` ([{"role": "user", "content": "Hi"}, ...]) is a chat, rendered by the server
    with the model's chat template, instead of `parts` (give one or the other)."""
    req = mot_pb2.GenerateRequest(request_id=request_id, parts=[_to_part(p) for p in parts],
                                  messages=_to_messages(messages))
    mods = list(modalities)
    if force_image and "image" not in mods:
        mods.append("image")
    if force_audio and "audio" not in mods:
        mods.append("audio")
    for m in mods:
        if m not in _MODALITIES:
            raise ValueError(f"modalities: unknown modality {m!r} (text, image, audio)")
        req.output_modalities.append(_MODALITIES[m])
    if temperature is not None:
        req.sampling.temperature = temperature
    if top_p is not None:
        req.sampling.top_p = top_p
    req.sampling.top_k = top_k
    if seed is not None:
        req.sampling.seed = seed
    req.limits.max_new_tokens = max_new_tokens
    req.stop_strings.extend(stop)
    req.image.force_start = force_image
    req.image.preview_every = preview_every
    if text_guidance is not None:
        req.image.text_guidance = text_guidance
    if image_guidance is not None:
        req.image.image_guidance = image_guidance
    req.audio.force_start = force_audio
    return req


def _usage(u: mot_pb2.ModalityUsage) -> Dict[str, int]:
    return {"prompt_tokens": u.prompt_tokens, "generated_tokens": u.generated_tokens,
            "cached_prompt_tokens": u.cached_prompt_tokens}


def to_event(r: mot_pb2.GenerateResponse) -> Optional[Event]:
    """One response message as an event; None for an event kind this client does not know."""
    kind = r.WhichOneof("event")
    if kind == "text":
        return TextDelta(r.text.text)
    if kind == "image_started":
        return ImageStarted(r.image_started.index, r.image_started.total_codes)
    if kind == "image_progress":
        p = r.image_progress
        return ImageProgress(p.index, p.codes_done, p.total_codes, p.preview_png)
    if kind == "image":
        return GeneratedImage(r.image.index, r.image.png, list(r.image.token_ids))
    if kind == "audio_started":
        return AudioStarted(r.audio_started.index)
    if kind == "audio":
        return GeneratedAudio(r.audio.index, r.audio.wav, list(r.audio.token_ids))
    if kind == "usage":
        return Usage({"text": _usage(r.usage.text), "image": _usage(r.usage.image),
                      "audio": _usage(r.usage.audio)})
    if kind == "finished":
        return Finished(r.request_id, _REASONS.get(r.finished.reason, "unspecified"),
                        r.finished.error_message)
    return None


def _credentials(tls: bool, root_certificates: Optional[bytes]):
    if tls or root_certificates:
        return grpc.ssl_channel_credentials(root_certificates=root_certificates)
    return None


_OPTIONS = [("grpc.max_receive_message_length", -1)]  # finished images/audio can be large

# The standard health check, called without generated stubs: HealthCheckRequest{service=""}
# encodes to no bytes; the response is field 1 (varint) = ServingStatus.
_HEALTH_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _decode_health(data: bytes) -> str:
    if len(data) >= 2 and data[0] == 0x08:
        return _HEALTH_NAMES.get(data[1], "UNKNOWN")
    return "UNKNOWN"


class Client:
    """A blocking client. `target` is "host:port"; `api_key` (or $MOT_API_KEY) is sent as a
    bearer token; `tls` uses the system roots, or `root_certificates` (PEM bytes)."""

    def __init__(self, target: str = "127.0.0.1:50051", *, api_key: Optional[str] = None,
                 tls: bool = False, root_certificates: Optional[bytes] = None,
                 timeout: Optional[float] = 300.0):
        creds = _credentials(tls, root_certificates)
        self._channel = (grpc.secure_channel(target, creds, options=_OPTIONS) if creds
                         else grpc.insecure_channel(target, options=_OPTIONS))
        self._stub = mot_pb2_grpc.MotServiceStub(self._channel)
        self._health = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        key = api_key if api_key is not None else os.environ.get("MOT_API_KEY", "")
        self._metadata = [("authorization", f"Bearer {key}")] if key else []
        self._timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def generate(self, parts: Sequence[PartLike], **kwargs) -> Iterator[Event]:
        """Yields events as they stream (see build_request for the arguments). Closing the
        generator early cancels the request on the server."""
        timeout = kwargs.pop("timeout", self._timeout)
        call = self._stub.Generate(build_request(parts, **kwargs), timeout=timeout,
                                   metadata=self._metadata)
        try:
            for r in call:
                ev = to_event(r)
                if ev is not None:
                    yield ev
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None
        finally:
            call.cancel()  # no-op after a normal end; cancels the server work otherwise

    def chat(self, messages: Sequence[Mapping[str, str]], **kwargs) -> Iterator[Event]:
        """generate() for a chat: the server applies the model's chat template."""
        return self.generate([], messages=messages, **kwargs)

    def tokenize(self, parts: Sequence[PartLike], add_bos: bool = True,
                 messages: Sequence[Mapping[str, str]] = ()) -> List[int]:
        try:
            r = self._stub.Tokenize(mot_pb2.TokenizeRequest(
                parts=[_to_part(p) for p in parts], add_bos=add_bos,
                messages=_to_messages(messages)),
                timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None
        return list(r.token_ids)

    def detokenize(self, token_ids: Sequence[int]) -> List[PartLike]:
        try:
            r = self._stub.Detokenize(mot_pb2.DetokenizeRequest(token_ids=list(token_ids)),
                                      timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None
        out: List[PartLike] = []
        for p in r.parts:
            kind = p.WhichOneof("content")
            if kind == "text":
                out.append(p.text)
            elif kind == "image":
                out.append(Image(p.image.data, p.image.mime_type))
            elif kind == "audio":
                out.append(Audio(p.audio.data, p.audio.mime_type))
        return out

    def model_info(self) -> mot_pb2.ModelInfo:
        try:
            return self._stub.GetModelInfo(mot_pb2.GetModelInfoRequest(), timeout=self._timeout,
                                           metadata=self._metadata)
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None

    def health(self) -> str:
        """"SERVING", "NOT_SERVING", ... of the server as a whole."""
        try:
            return _decode_health(self._health(b"", timeout=self._timeout))
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None


class AsyncClient:
    """The asyncio twin of Client (grpc.aio): `async for ev in client.generate(...)`."""

    def __init__(self, target: str = "127.0.0.1:50051", *, api_key: Optional[str] = None,
                 tls: bool = False, root_certificates: Optional[bytes] = None,
                 timeout: Optional[float] = 300.0):
        creds = _credentials(tls, root_certificates)
        self._channel = (aio.secure_channel(target, creds, options=_OPTIONS) if creds
                         else aio.insecure_channel(target, options=_OPTIONS))
        self._stub = mot_pb2_grpc.MotServiceStub(self._channel)
        self._health = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        key = api_key if api_key is not None else os.environ.get("MOT_API_KEY", "")
        self._metadata = [("authorization", f"Bearer {key}")] if key else []
        self._timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def generate(self, parts: Sequence[PartLike], **kwargs) -> AsyncIterator[Event]:
        timeout = kwargs.pop("timeout", self._timeout)
        call = self._stub.Generate(build_request(parts, **kwargs), timeout=timeout,
                                   metadata=self._metadata)
        try:
            async for r in call:
                ev = to_event(r)
                if ev is not None:
                    yield ev
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None
        finally:
            call.cancel()

    def chat(self, messages: Sequence[Mapping[str, str]], **kwargs) -> AsyncIterator[Event]:
        """generate() for a chat: the server applies the model's chat template."""
        return self.generate([], messages=messages, **kwargs)

    async def tokenize(self, parts: Sequence[PartLike], add_bos: bool = True,
                       messages: Sequence[Mapping[str, str]] = ()) -> List[int]:
        try:
            r = await self._stub.Tokenize(mot_pb2.TokenizeRequest(
                parts=[_to_part(p) for p in parts], add_bos=add_bos,
                messages=_to_messages(messages)),
                timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None
        return list(r.token_ids)

    async def model_info(self) -> mot_pb2.ModelInfo:
        try:
            return await self._stub.GetModelInfo(mot_pb2.GetModelInfoRequest(),
                                                 timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None

    async def health(self) -> str:
        try:
            return _decode_health(await self._health(b"", timeout=self._timeout))
        except grpc.RpcError as e:
            raise MotError(e.code(), e.details()) from None
