// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/event_mapping.h
// The edge between engine and API types: engine events -> GenerateResponse messages (with
// image and audio indices counted per stream), FinishReason -> proto, absl::Status ->
// grpc::Status (codes are numerically the same; the message is kept).
// Thread rule: EventMapper is per stream, one thread at a time; the functions are pure.
#ifndef MOT_SERVER_EVENT_MAPPING_H_
#define MOT_SERVER_EVENT_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "engine/engine.h"
#include "mot/v1/mot.pb.h"

namespace mot::server {

grpc::Status ToGrpcStatus(const absl::Status& status);
v1::FinishReason ToProto(engine::FinishReason reason);
// "OK", "INVALID_ARGUMENT", ... (metric labels and logs).
std::string CodeName(grpc::StatusCode code);

class EventMapper {
 public:
  explicit EventMapper(std::string request_id) : request_id_(std::move(request_id)) {}

  // Fills `out` (cleared first) from `event`; the event's byte payloads are moved out.
  // Every event kind gives exactly one message.
  void Map(engine::Event& event, v1::GenerateResponse* out);

 private:
  std::string request_id_;
  int image_index_ = -1;  // index of the image being generated (or last finished)
  int audio_index_ = -1;
  bool image_open_ = false, audio_open_ = false;
};

}  // namespace mot::server

#endif  // MOT_SERVER_EVENT_MAPPING_H_
