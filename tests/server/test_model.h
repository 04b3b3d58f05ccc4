// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/server/test_model.h
// A tiny real PromptBuilder for the server's tests (a BPE trained on a few sentences, a
// 16x16 image VQ with 4 codes per image, a small audio codec trained on tones), the
// ModelInfo that goes with it, and media bytes to send: PNGs of any size, WAVs of any
// length, and deliberately broken variants.
// Thread rule: test code; the builder is immutable and shared.
#ifndef MOT_TESTS_SERVER_TEST_MODEL_H_
#define MOT_TESTS_SERVER_TEST_MODEL_H_

#include <memory>
#include <string>

#include "engine/tokenizer/prompt_builder.h"
#include "mot/v1/mot.pb.h"

namespace mot::testing {

// The builder and its config (max_seq_len 4096).
std::unique_ptr<tokenizer::PromptBuilder> MakeTestPromptBuilder(MotConfig* config = nullptr);
v1::ModelInfo TestModelInfo(const MotConfig& config);

// A width x height PNG (left half red).
std::string TestPng(int width = 32, int height = 32);
// A mono 16 kHz 16-bit WAV of a 220 Hz tone.
std::string TestWav(double seconds);
// A PNG whose IHDR says width x height (any values) and whose data is garbage.
std::string PngWithHeader(uint32_t width, uint32_t height);

}  // namespace mot::testing

#endif  // MOT_TESTS_SERVER_TEST_MODEL_H_
