// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-cli: the command-line client of mot-server.
//   mot-cli generate --text "A photo of" --image cat.png --text "Describe it."
//   mot-cli generate --text "a red circle" --modalities=image --force_image --out_dir=out
//   mot-cli generate --message "system:Be brief." --message "user:Hi!"   (chat template)
//   mot-cli health | info | tokenize --text hello
// Text streams to stdout as it arrives; images and audio are written under --out_dir and
// their paths printed on stderr; a progress bar on stderr while an image is generated.
// --json prints one JSON object per event on stdout instead (file paths, not bytes).
// Exit codes: 0 success; 1 the server refused the request (its message printed);
// 2 the server cannot be reached; 3 the deadline passed; 4 bad command line; 5 the server
// is not serving (health).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "clients/cli_parts.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "mot/v1/mot.grpc.pb.h"
#include "nlohmann/json.hpp"

// Documented here for --help; the values are taken from argv in order (cli_parts.h).
ABSL_FLAG(std::vector<std::string>, text, {}, "A text part (repeatable, kept in order)");
ABSL_FLAG(std::vector<std::string>, image, {}, "An image file part (repeatable, in order)");
ABSL_FLAG(std::vector<std::string>, audio, {}, "An audio file part (repeatable, in order)");

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "mot-server address host:port");
ABSL_FLAG(bool, tls, false, "Use TLS (system roots unless --tls_ca)");
ABSL_FLAG(std::string, tls_ca, "", "PEM file of the CA that signed the server's certificate");
ABSL_FLAG(std::string, api_key, "", "API key (or set MOT_API_KEY)");
ABSL_FLAG(double, deadline_s, 300, "Give up after this many seconds");
ABSL_FLAG(std::string, out_dir, ".", "Where generated images and audio are written");
ABSL_FLAG(std::vector<std::string>, modalities, {},
          "Output modalities: text,image,audio (default: text)");
ABSL_FLAG(bool, force_image, false, "Start the output with an image (text-to-image)");
ABSL_FLAG(bool, force_audio, false, "Start the output with audio (text-to-speech)");
ABSL_FLAG(int32_t, max_new_tokens, 0, "Generated tokens at most (0: server default)");
ABSL_FLAG(double, temperature, -1, "Sampling temperature (0 greedy; <0: server default)");
ABSL_FLAG(double, top_p, -1, "Nucleus sampling threshold in (0, 1] (<0: default)");
ABSL_FLAG(int32_t, top_k, 0, "Keep the k most likely tokens (0: all)");
ABSL_FLAG(int64_t, seed, -1, "Sampling seed (<0: the server picks)");
ABSL_FLAG(std::vector<std::string>, stop, {}, "Stop strings, comma-separated");
ABSL_FLAG(int32_t, preview_every, 0, "Ask for an image preview every N codes");
ABSL_FLAG(double, text_guidance, -1, "Classifier-free guidance scale (text) for images");
ABSL_FLAG(double, image_guidance, -1, "Classifier-free guidance scale (image) for images");
ABSL_FLAG(std::string, request_id, "", "Request id (default: assigned by the server)");
ABSL_FLAG(bool, json, false, "Print JSON lines instead of text");
ABSL_FLAG(bool, quiet, false, "No progress bar or file notices on stderr");
ABSL_FLAG(bool, add_bos, true, "tokenize: prepend <bos> as generate does");

namespace mot::cli {
namespace {

enum Exit { kOk = 0, kRefused = 1, kUnreachable = 2, kDeadline = 3, kUsage = 4, kNotServing = 5 };

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<grpc::Channel> MakeChannel() {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (absl::GetFlag(FLAGS_tls) || !absl::GetFlag(FLAGS_tls_ca).empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
      ssl.pem_root_certs = ReadFileOrEmpty(absl::GetFlag(FLAGS_tls_ca));
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // finished images and audio can be large
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_server), creds, args);
}

void Prepare(grpc::ClientContext* ctx) {
  ctx->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_deadline_s))));
  std::string key = absl::GetFlag(FLAGS_api_key);
  if (key.empty()) {
    if (const char* env = std::getenv("MOT_API_KEY")) key = env;
  }
  if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
}

// A clear message and an exit code for a failed call.
int Fail(const grpc::Status& s) {
  const std::string server = absl::GetFlag(FLAGS_server);
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      std::fprintf(stderr, "mot-cli: the server at %s is unavailable: %s\n", server.c_str(),
                   s.error_message().c_str());
      return kUnreachable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::fprintf(stderr, "mot-cli: the deadline of %gs passed (--deadline_s)\n",
                   absl::GetFlag(FLAGS_deadline_s));
      return kDeadline;
    case grpc::StatusCode::UNAUTHENTICATED:
      std::fprintf(stderr,
                   "mot-cli: the server refused the API key: %s (--api_key or "
                   "MOT_API_KEY)\n",
                   s.error_message().c_str());
      return kRefused;
    default:
      std::fprintf(stderr, "mot-cli: the server refused the request: %s: %s\n",
                   absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())).c_str(),
                   s.error_message().c_str());
      return kRefused;
  }
}

const char* ReasonName(v1::FinishReason r) {
  switch (r) {
    case v1::FINISH_REASON_STOP:
      return "stop";
    case v1::FINISH_REASON_LENGTH:
      return "length";
    case v1::FINISH_REASON_CANCELLED:
      return "cancelled";
    case v1::FINISH_REASON_ERROR:
      return "error";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::GenerateRequest> BuildRequest(std::vector<v1::Part> parts,
                                                 std::vector<v1::ChatMessage> messages) {
  v1::GenerateRequest req;
  for (v1::Part& p : parts) *req.add_parts() = std::move(p);
  for (v1::ChatMessage& m : messages) *req.add_messages() = std::move(m);
  req.set_request_id(absl::GetFlag(FLAGS_request_id));
  for (const std::string& m : absl::GetFlag(FLAGS_modalities)) {
    if (m == "text") {
      req.add_output_modalities(v1::MODALITY_TEXT);
    } else if (m == "image") {
      req.add_output_modalities(v1::MODALITY_IMAGE);
    } else if (m == "audio") {
      req.add_output_modalities(v1::MODALITY_AUDIO);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--modalities: unknown modality \"", m, "\" (text, image, audio)"));
    }
  }
  // --force_image / --force_audio imply their modality.
  auto ensure = [&req](v1::Modality m) {
    for (int x : req.output_modalities()) {
      if (x == m) return;
    }
    req.add_output_modalities(m);
  };
  if (absl::GetFlag(FLAGS_force_image)) {
    ensure(v1::MODALITY_IMAGE);
    req.mutable_image()->set_force_start(true);
  }
  if (absl::GetFlag(FLAGS_force_audio)) {
    ensure(v1::MODALITY_AUDIO);
    req.mutable_audio()->set_force_start(true);
  }
  v1::SamplingParams* s = req.mutable_sampling();
  if (absl::GetFlag(FLAGS_temperature) >= 0) s->set_temperature(absl::GetFlag(FLAGS_temperature));
  if (absl::GetFlag(FLAGS_top_p) >= 0) s->set_top_p(absl::GetFlag(FLAGS_top_p));
  s->set_top_k(absl::GetFlag(FLAGS_top_k));
  if (absl::GetFlag(FLAGS_seed) >= 0) s->set_seed(static_cast<uint64_t>(absl::GetFlag(FLAGS_seed)));
  req.mutable_limits()->set_max_new_tokens(absl::GetFlag(FLAGS_max_new_tokens));
  for (const std::string& st : absl::GetFlag(FLAGS_stop)) req.add_stop_strings(st);
  req.mutable_image()->set_preview_every(absl::GetFlag(FLAGS_preview_every));
  if (absl::GetFlag(FLAGS_text_guidance) >= 0) {
    req.mutable_image()->set_text_guidance(absl::GetFlag(FLAGS_text_guidance));
  }
  if (absl::GetFlag(FLAGS_image_guidance) >= 0) {
    req.mutable_image()->set_image_guidance(absl::GetFlag(FLAGS_image_guidance));
  }
  return req;
}

class Generator {
 public:
  Generator() : json_(absl::GetFlag(FLAGS_json)), quiet_(absl::GetFlag(FLAGS_quiet)) {
    bar_ = !quiet_ && !json_ && isatty(STDERR_FILENO);
  }

  int Run(const v1::GenerateRequest& req) {
    std::error_code ec;
    std::filesystem::create_directories(absl::GetFlag(FLAGS_out_dir), ec);
    auto stub = v1::MotService::NewStub(MakeChannel());
    grpc::ClientContext ctx;
    Prepare(&ctx);
    auto reader = stub->Generate(&ctx, req);
    v1::GenerateResponse resp;
    while (reader->Read(&resp)) {
      if (int rc = Handle(resp); rc != kOk) {
        ctx.TryCancel();
        while (reader->Read(&resp)) {
        }
        reader->Finish();
        return rc;
      }
    }
    ClearBar();
    grpc::Status s = reader->Finish();
    if (!json_ && ended_text_) std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!s.ok()) return Fail(s);
    return kOk;
  }

 private:
  void Emit(const nlohmann::json& j) {
    std::fputs((j.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  void ShowBar(const std::string& line) {
    if (!bar_) return;
    std::fprintf(stderr, "\r%s", line.c_str());
    std::fflush(stderr);
    bar_shown_ = true;
  }
  void ClearBar() {
    if (bar_shown_) std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }
  // Writes bytes to out_dir/<request id>-<kind>-<index>.<ext>; "" and a message on failure.
  std::string Save(const std::string& id, const char* kind, int index, const char* ext,
                   const std::string& bytes) {
    const std::string name =
        absl::StrCat(id.empty() ? "output" : id, "-", kind, "-", index, ".", ext);
    const std::filesystem::path path = std::filesystem::path(absl::GetFlag(FLAGS_out_dir)) / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "mot-cli: cannot write %s\n", path.c_str());
      return "";
    }
    return path.string();
  }

  int Handle(const v1::GenerateResponse& r) {
    switch (r.event_case()) {
      case v1::GenerateResponse::kText:
        if (json_) {
          Emit({{"type", "text"}, {"text", r.text().text()}});
        } else {
          ClearBar();
          std::fputs(r.text().text().c_str(), stdout);
          std::fflush(stdout);
          ended_text_ = true;
        }
        break;
      case v1::GenerateResponse::kImageStarted:
        if (json_) {
          Emit({{"type", "image_started"},
                {"index", r.image_started().index()},
                {"total_codes", r.image_started().total_codes()}});
        }
        ShowBar(absl::StrCat("image ", r.image_started().index(), " ",
                             ProgressBar(0, r.image_started().total_codes())));
        break;
      case v1::GenerateResponse::kImageProgress: {
        const auto& p = r.image_progress();
        std::string preview;
        if (!p.preview_png().empty())
          preview = Save(r.request_id(), "preview", p.index(), "png", p.preview_png());
        if (json_) {
          nlohmann::json j = {{"type", "image_progress"},
                              {"index", p.index()},
                              {"codes_done", p.codes_done()},
                              {"total_codes", p.total_codes()}};
          if (!preview.empty()) j["preview_path"] = preview;
          Emit(j);
        }
        ShowBar(
            absl::StrCat("image ", p.index(), " ", ProgressBar(p.codes_done(), p.total_codes())));
        break;
      }
      case v1::GenerateResponse::kImage: {
        ClearBar();
        const std::string path =
            Save(r.request_id(), "image", r.image().index(), "png", r.image().png());
        if (path.empty()) return kRefused;
        if (json_) {
          Emit({{"type", "image"},
                {"index", r.image().index()},
                {"path", path},
                {"tokens", r.image().token_ids_size()}});
        } else if (!quiet_) {
          std::fprintf(stderr, "mot-cli: wrote image %s\n", path.c_str());
        }
        break;
      }
      case v1::GenerateResponse::kAudioStarted:
        if (json_) Emit({{"type", "audio_started"}, {"index", r.audio_started().index()}});
        ShowBar(absl::StrCat("audio ", r.audio_started().index(), ": generating..."));
        break;
      case v1::GenerateResponse::kAudio: {
        ClearBar();
        const std::string path =
            Save(r.request_id(), "audio", r.audio().index(), "wav", r.audio().wav());
        if (path.empty()) return kRefused;
        if (json_) {
          Emit({{"type", "audio"},
                {"index", r.audio().index()},
                {"path", path},
                {"tokens", r.audio().token_ids_size()}});
        } else if (!quiet_) {
          std::fprintf(stderr, "mot-cli: wrote audio %s\n", path.c_str());
        }
        break;
      }
      case v1::GenerateResponse::kUsage:
        if (json_) {
          nlohmann::json j = {{"type", "usage"}};
          const std::pair<const char*, const v1::ModalityUsage*> us[] = {
              {"text", &r.usage().text()},
              {"image", &r.usage().image()},
              {"audio", &r.usage().audio()}};
          for (const auto& [name, u] : us) {
            j[name] = {{"prompt_tokens", u->prompt_tokens()},
                       {"generated_tokens", u->generated_tokens()},
                       {"cached_prompt_tokens", u->cached_prompt_tokens()}};
          }
          Emit(j);
        }
        break;
      case v1::GenerateResponse::kFinished:
        if (json_) {
          nlohmann::json j = {{"type", "finished"},
                              {"request_id", r.request_id()},
                              {"reason", ReasonName(r.finished().reason())}};
          if (!r.finished().error_message().empty()) j["error"] = r.finished().error_message();
          Emit(j);
        }
        break;
      default:
        break;  // an event this client does not know yet: skip it
    }
    return kOk;
  }

  bool json_, quiet_, bar_;
  bool bar_shown_ = false;
  bool ended_text_ = false;
};

int Health() {
  auto stub = grpc::health::v1::Health::NewStub(MakeChannel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) return Fail(s);
  const bool serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  const char* name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()).c_str();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", nlohmann::json({{"status", name}}).dump().c_str());
  } else {
    std::printf("%s\n", name);
  }
  return serving ? kOk : kNotServing;
}

int Info() {
  auto stub = v1::MotService::NewStub(MakeChannel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ModelInfo info;
  grpc::Status s = stub->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info);
  if (!s.ok()) return Fail(s);
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = !absl::GetFlag(FLAGS_json);
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(info, &out, o).ok()) out = info.DebugString();
  std::printf("%s%s", out.c_str(), absl::GetFlag(FLAGS_json) ? "\n" : "");
  return kOk;
}

int Tokenize(std::vector<v1::Part> parts, std::vector<v1::ChatMessage> messages) {
  auto stub = v1::MotService::NewStub(MakeChannel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::TokenizeRequest req;
  for (v1::Part& p : parts) *req.add_parts() = std::move(p);
  for (v1::ChatMessage& m : messages) *req.add_messages() = std::move(m);
  req.set_add_bos(absl::GetFlag(FLAGS_add_bos));
  v1::TokenizeResponse resp;
  grpc::Status s = stub->Tokenize(&ctx, req, &resp);
  if (!s.ok()) return Fail(s);
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {
        {"token_ids", std::vector<int32_t>(resp.token_ids().begin(), resp.token_ids().end())},
        {"towers", std::vector<int32_t>(resp.towers().begin(), resp.towers().end())}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s\n", absl::StrJoin(resp.token_ids(), " ").c_str());
    std::fprintf(stderr, "%d tokens\n", resp.token_ids_size());
  }
  return kOk;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  absl::StatusOr<std::vector<PartFlag>> part_flags = ExtractPartFlags(&args);
  if (!part_flags.ok()) {
    std::fprintf(stderr, "mot-cli: %s\n", std::string(part_flags.status().message()).c_str());
    return kUsage;
  }
  std::vector<char*> rest;
  for (std::string& a : args) rest.push_back(a.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(rest.size()), rest.data());
  if (positional.size() != 2) {
    std::fprintf(stderr,
                 "mot-cli: give one command: generate, health, info or tokenize "
                 "(--help for the flags)\n");
    return kUsage;
  }
  const std::string command = positional[1];
  if (command == "health") return Health();
  if (command == "info") return Info();
  if (command != "generate" && command != "tokenize") {
    std::fprintf(stderr, "mot-cli: unknown command \"%s\" (generate, health, info, tokenize)\n",
                 command.c_str());
    return kUsage;
  }
  if (part_flags->empty()) {
    std::fprintf(stderr, "mot-cli: %s needs at least one --text, --image, --audio or --message\n",
                 command.c_str());
    return kUsage;
  }
  absl::StatusOr<std::vector<v1::Part>> parts = LoadParts(*part_flags);
  if (!parts.ok()) {
    std::fprintf(stderr, "mot-cli: %s\n", std::string(parts.status().message()).c_str());
    return kUsage;
  }
  absl::StatusOr<std::vector<v1::ChatMessage>> messages = LoadMessages(*part_flags);
  if (!messages.ok()) {
    std::fprintf(stderr, "mot-cli: %s\n", std::string(messages.status().message()).c_str());
    return kUsage;
  }
  if (command == "tokenize") return Tokenize(*std::move(parts), *std::move(messages));
  absl::StatusOr<v1::GenerateRequest> req = BuildRequest(*std::move(parts), *std::move(messages));
  if (!req.ok()) {
    std::fprintf(stderr, "mot-cli: %s\n", std::string(req.status().message()).c_str());
    return kUsage;
  }
  return Generator().Run(*req);
}

}  // namespace
}  // namespace mot::cli

int main(int argc, char** argv) {
  // --help lists this file's flags (absl matches files by the binary's name by default,
  // which a hyphenated binary name never matches).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "clients/mot_cli.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "The command-line client of mot-server.\n"
      "  mot-cli generate --text \"Describe\" --image cat.png [--modalities=text,image] ...\n"
      "  mot-cli generate --message \"user:Hello!\" (a chat: the model's chat template)\n"
      "  mot-cli health | info | tokenize --text hello\n"
      "Exit codes: 0 ok, 1 refused, 2 server unreachable, 3 deadline passed, 4 usage, "
      "5 not serving.");
  return mot::cli::Main(argc, argv);
}
