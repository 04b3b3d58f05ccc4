// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/default_model.h
// DefaultModelDir(): where the default model's checkpoint lives, the one place that names
// it. mot-server loads it when --checkpoint is not given; `mot-train default-model` writes
// it there. Header-only and dependency-free, so both the server and the trainer include it
// without either depending on the other.
//   $MOT_HOME/default-model        when MOT_HOME is set and non-empty
//   $HOME/.cache/mot/default-model otherwise ("./.cache/mot/default-model" without HOME)
// Thread rule: reads the environment; call it before starting threads that setenv.
#ifndef MOT_MODEL_LOADERS_DEFAULT_MODEL_H_
#define MOT_MODEL_LOADERS_DEFAULT_MODEL_H_

#include <cstdlib>
#include <string>

namespace mot {

inline constexpr char kDefaultModelDirName[] = "default-model";

inline std::string DefaultModelDir() {
  if (const char* home = std::getenv("MOT_HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/" + kDefaultModelDirName;
  }
  const char* user_home = std::getenv("HOME");
  const std::string base = (user_home != nullptr && *user_home != '\0') ? user_home : ".";
  return base + "/.cache/mot/" + kDefaultModelDirName;
}

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_DEFAULT_MODEL_H_
