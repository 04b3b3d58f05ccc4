// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: clients/cli_parts.h
// The ordered prompt flags of mot-cli: --text, --image and --audio may repeat and mix, and
// the prompt keeps their command-line order ("--text a --image x.png --text b" is three
// parts in that order), which flag libraries do not preserve across different flags. So
// they are taken out of argv before the other flags are parsed.
// Thread rule: pure functions.
#ifndef MOT_CLIENTS_CLI_PARTS_H_
#define MOT_CLIENTS_CLI_PARTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mot/v1/mot.pb.h"

namespace mot::cli {

struct PartFlag {
  enum Kind { kText, kImage, kAudio, kMessage } kind;
  std::string value;  // the text, a file path, or (kMessage) "ROLE:CONTENT"
};

// Removes every --text/--image/--audio/--message (as "--text=V" or "--text V", also with a single
// dash) from `args` and returns them in order. InvalidArgument naming the flag when one
// has no value.
absl::StatusOr<std::vector<PartFlag>> ExtractPartFlags(std::vector<std::string>* args);

// Reads the files and builds the parts: an image or audio file's MIME type comes from its
// extension (.png .jpg .jpeg .gif .bmp .wav .flac .ogg), else is left for the server to
// recognise. NotFound naming the flag and path for an unreadable file.
absl::StatusOr<std::vector<v1::Part>> LoadParts(const std::vector<PartFlag>& flags);

// The chat messages of the --message ROLE:CONTENT flags, in order (the role is what comes
// before the first ':'). InvalidArgument naming --message when one has no role; when
// --message is mixed with --text/--image/--audio.
absl::StatusOr<std::vector<v1::ChatMessage>> LoadMessages(const std::vector<PartFlag>& flags);

// A progress bar of `width` cells: "[#####     ]  12/64".
std::string ProgressBar(int done, int total, int width = 30);

}  // namespace mot::cli

#endif  // MOT_CLIENTS_CLI_PARTS_H_
