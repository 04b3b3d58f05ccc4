// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/tokenizer/text/train_golden_tokenizer.cc
// Tool (not a test): trains our byte-level BPE on tests/data/text/corpus.jsonl and writes
// the tokenizer.json that the goldens use (tests/data/text/ours_tokenizer.json). Run it
// before tests/tokenizer/text/make_goldens.py when the trainer changes:
//   train_golden_tokenizer <corpus.jsonl> <out tokenizer.json>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/tokenizer/text/bpe_trainer.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " <corpus.jsonl> <out tokenizer.json>\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << argv[1] << ": cannot open\n";
    return 1;
  }
  std::vector<std::string> corpus;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_string()) {
      std::cerr << argv[1] << ": line " << corpus.size() + 1 << " is not a JSON string\n";
      return 1;
    }
    corpus.push_back(j.get<std::string>());
  }
  mot::tokenizer::BpeTrainerOptions options;
  options.vocab_size = 3000;
  options.min_frequency = 1;
  options.special_tokens = {"<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>"};
  auto tok = mot::tokenizer::TrainByteLevelBpe(corpus, options);
  if (!tok.ok()) {
    std::cerr << tok.status() << "\n";
    return 1;
  }
  if (absl::Status s = (*tok)->Save(argv[2]); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::cerr << "wrote " << argv[2] << ": " << (*tok)->vocab_size() << " ids, "
            << (*tok)->model().merges().size() << " merges\n";
  return 0;
}
