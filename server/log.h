// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/log.h
// Structured logs: one logfmt line per event on stderr,
//   ts=2026-01-02T03:04:05.678Z level=info event=request_done request_id=r1 code=OK
// Values with spaces, quotes or '=' are quoted. The request id is a field of every line
// about a request, so a request's lines can be grepped together.
// Thread rule: any thread; each line is written with one fwrite under a mutex, so lines of
// different threads never interleave.
#ifndef MOT_SERVER_LOG_H_
#define MOT_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace mot::server {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogField = std::pair<absl::string_view, std::string>;

// Writes one line: ts, level, event, then `fields` in order. Lines below the minimum level
// (SetMinLogLevel; kInfo by default) are dropped.
void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});
void SetMinLogLevel(LogLevel level);

// The logfmt rendering of one line without the timestamp (for tests).
std::string FormatLogLine(LogLevel level, absl::string_view event,
                          std::initializer_list<LogField> fields);

}  // namespace mot::server

#endif  // MOT_SERVER_LOG_H_
