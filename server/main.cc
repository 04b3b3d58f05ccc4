// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-server: serves a MoT checkpoint over gRPC (mot.v1.MotService, grpc.health.v1,
// reflection) with Prometheus metrics over HTTP. Run with --help for the flags.
// Start-up: listen at once (health NOT_SERVING), load and verify the checkpoint, create
// the engine, run one warm-up request, then serve (health SERVING). SIGTERM or SIGINT:
// stop admitting, drain open streams for --drain_grace_s, exit 0.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/backend/backend_factory.h"
#include "engine/core/dtype.h"
#include "engine/core/status_macros.h"
#include "engine/core/thread_pool.h"
#include "engine/engine.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/default_model.h"
#include "server/log.h"
#include "server/server.h"

ABSL_FLAG(std::string, checkpoint, "",
          "Checkpoint directory; empty: the default model ($MOT_HOME/default-model or "
          "~/.cache/mot/default-model)");
ABSL_FLAG(std::string, address, "127.0.0.1:50051",
          "gRPC listen address host:port (0.0.0.0:50051 to serve other hosts)");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9090",
          "Prometheus /metrics HTTP address host:port; empty: off");
ABSL_FLAG(std::string, api_keys_file, "",
          "File of accepted API keys, one per line; clients send 'authorization: Bearer "
          "<key>'. Empty: no authentication");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain for TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for TLS (with --tls_cert)");
ABSL_FLAG(bool, verify_sha256, true, "Hash every checkpoint file against manifest.json");
// Limits.
ABSL_FLAG(int64_t, max_message_bytes, 64ll << 20, "Largest encoded request accepted");
ABSL_FLAG(int32_t, max_parts, 64, "Most parts per request");
ABSL_FLAG(int64_t, max_text_bytes, 1ll << 20, "Largest text part, bytes");
ABSL_FLAG(int64_t, max_media_bytes, 32ll << 20, "Largest image or audio part, bytes");
ABSL_FLAG(int64_t, max_image_pixels, 1ll << 24, "Largest input image, width*height");
ABSL_FLAG(double, max_audio_seconds, 120.0, "Longest input audio part, seconds");
ABSL_FLAG(int32_t, max_prompt_tokens, 0, "Longest prompt in tokens; 0: the model's max_seq_len");
ABSL_FLAG(int32_t, max_new_tokens, 4096, "Most tokens a request may generate");
ABSL_FLAG(int32_t, default_max_new_tokens, 256, "Tokens generated when a request sets none");
ABSL_FLAG(int32_t, max_stop_strings, 16, "Most stop strings per request");
// Engine.
ABSL_FLAG(int64_t, kv_budget_mb, 0,
          "KV cache size over all modality pools, MiB; 0: 256 on the CPU, and on a GPU what the "
          "weights leave of --gpu_memory_fraction of its memory (> 0 caps it there)");
ABSL_FLAG(std::string, device, "auto",
          "cpu, cuda (GPU 0) or auto (the GPU when one is usable, else the CPU; the log says "
          "which and why)");
ABSL_FLAG(double, gpu_memory_fraction, 0.9,
          "Share of the GPU's memory the server may use (weights, activations and KV)");
ABSL_FLAG(int32_t, block_size, 16, "KV positions per block");
ABSL_FLAG(std::vector<std::string>, kv_dtype, {},
          "K/V storage dtype (f32, bf16, f16): one for every modality pool, or one per tower "
          "in the checkpoint's modality order; empty: f32");
ABSL_FLAG(std::vector<std::string>, kv_pool_shares, {},
          "Shares of --kv_budget_mb per modality pool, one per tower; empty: equal");
ABSL_FLAG(std::string, cpu_bf16_gemm, "auto",
          "CPU backend: bf16 weights at prefill sizes on amx (AMX tiles), dot (AVX-512 BF16 dot "
          "products) or f32 (converted + sgemm); auto: amx where the CPU has it, else f32. The "
          "first two round activations to bf16");
ABSL_FLAG(bool, batch_invariant, false,
          "Sum every row in one order whatever the batch, so a request's tokens do not depend "
          "on what it is batched with (slower prefill)");
ABSL_FLAG(int32_t, max_running, 64, "Most sequences decoded together");
ABSL_FLAG(int32_t, max_queue, 1024, "Most requests waiting; beyond it RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, max_step_tokens, 256, "Rows (prefill + decode) per engine step");
ABSL_FLAG(bool, prefix_caching, true, "Reuse KV blocks of repeated prompt prefixes");
ABSL_FLAG(int32_t, threads, 0, "CPU compute threads; 0: one per core");
ABSL_FLAG(int32_t, encode_threads, 1, "Threads encoding PNG/WAV outputs");
// Server.
ABSL_FLAG(int32_t, pump_threads, 2, "Threads moving engine events to streams");
ABSL_FLAG(double, drain_grace_s, 30.0, "On SIGTERM, seconds open streams get to finish");
ABSL_FLAG(bool, warmup, true, "Run one tiny request before reporting SERVING");
ABSL_FLAG(bool, verbose, false, "Debug logs");

namespace mot::server {
namespace {

// The chat template of the checkpoint's tokenizer_config.json (mot-import copies it there).
// A missing file or template leaves chat off; a template we cannot run is logged, and
// requests with `messages` are then refused with the reason.
ChatSetup LoadChatSetup(const std::string& dir) {
  ChatSetup chat;
  const std::string path = dir + "/tokenizer_config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return chat;
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<tokenizer::ChatTemplateConfig> config =
      tokenizer::ReadChatTemplateConfig(text.str());
  if (!config.ok()) {
    if (!absl::IsNotFound(config.status())) {
      chat.unavailable = absl::StrCat(path, ": ", config.status().message());
      Log(LogLevel::kWarning, "chat_template_unusable", {{"reason", chat.unavailable}});
    }
    return chat;
  }
  absl::StatusOr<tokenizer::ChatTemplate> parsed = tokenizer::ChatTemplate::Parse(config->source);
  if (!parsed.ok()) {
    chat.unavailable = absl::StrCat(path, ": chat_template: ", parsed.status().message());
    Log(LogLevel::kWarning, "chat_template_unusable", {{"reason", chat.unavailable}});
    return chat;
  }
  chat.chat_template = *std::move(parsed);
  chat.context = std::move(config->context);
  Log(LogLevel::kInfo, "chat_template", {{"file", path}});
  return chat;
}

v1::ModelInfo InfoOf(const Checkpoint& ckpt, const tokenizer::PromptBuilder& builder) {
  const MotConfig& c = ckpt.config();
  v1::ModelInfo info;
  info.set_model_name(std::filesystem::path(ckpt.dir()).filename().string());
  v1::ModelConfig* mc = info.mutable_config();
  mc->set_dim(c.dim);
  mc->set_n_layers(c.n_layers);
  mc->set_n_heads(c.n_heads);
  mc->set_n_kv_heads(c.n_kv_heads);
  mc->set_head_dim(c.head_dim);
  mc->set_ffn_hidden(c.ffn_hidden);
  mc->set_max_seq_len(c.max_seq_len);
  mc->set_norm_placement(c.norm_placement == NormPlacement::kPre ? "pre" : "post_branch");
  mc->set_qk_norm(c.qk_norm);
  mc->set_tie_embeddings(c.tie_embeddings);
  mc->set_rope_theta(c.rope_theta);
  for (const std::string& m : c.modalities) info.add_modalities(m);
  info.set_vocab_size(c.vocab_size);
  for (const VocabRange& r : c.vocab_ranges) {
    v1::VocabRange* vr = info.add_vocab_ranges();
    vr->set_name(r.name);
    vr->set_begin(r.begin);
    vr->set_end(r.end);
    vr->set_tower(r.tower);
  }
  for (const std::string& s : c.special_tokens) info.add_special_tokens(s);
  if (builder.image() != nullptr) {
    info.mutable_image()->set_resolution(builder.image()->resolution());
    info.mutable_image()->set_tokens_per_image(
        static_cast<int32_t>(builder.image()->tokens_per_image()));
  }
  if (builder.audio() != nullptr) {
    info.mutable_audio()->set_sample_rate(builder.audio()->sample_rate());
    info.mutable_audio()->set_tokens_per_frame(builder.audio()->tokens_per_frame());
  }
  info.set_server_version("0.1.0");
  return info;
}

absl::Status WarmUp(engine::Engine& engine) {
  engine::GenerateRequest req;
  req.request_id = "warmup";
  const std::vector<tokenizer::Part> parts = {{tokenizer::Modality::kText, "hello"}};
  MOT_ASSIGN_OR_RETURN(req.prompt, engine.prompt_builder().Build(parts));
  req.sampling.temperature = 0;
  req.sampling.max_new_tokens = 1;
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<engine::RequestHandle> handle,
                       engine.Submit(std::move(req)));
  while (std::optional<engine::Event> ev = handle->Next()) {
    if (ev->kind == engine::EventKind::kFinished) {
      return ev->reason == engine::FinishReason::kError ? ev->status : absl::OkStatus();
    }
  }
  return absl::InternalError("warm-up: the stream ended without a finish event");
}

int Main() {
  if (absl::GetFlag(FLAGS_verbose)) SetMinLogLevel(LogLevel::kDebug);
  // SIGTERM/SIGINT go to one watcher thread (sigwait); block them before any thread starts
  // so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerOptions so;
  so.address = absl::GetFlag(FLAGS_address);
  so.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  so.api_keys_file = absl::GetFlag(FLAGS_api_keys_file);
  so.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  so.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  so.pump_threads = absl::GetFlag(FLAGS_pump_threads);
  ServerLimits& l = so.limits;
  l.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  l.max_parts = absl::GetFlag(FLAGS_max_parts);
  l.max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes);
  l.max_media_bytes = absl::GetFlag(FLAGS_max_media_bytes);
  l.max_image_pixels = absl::GetFlag(FLAGS_max_image_pixels);
  l.max_audio_seconds = absl::GetFlag(FLAGS_max_audio_seconds);
  l.max_prompt_tokens = absl::GetFlag(FLAGS_max_prompt_tokens);
  l.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  l.default_max_new_tokens = absl::GetFlag(FLAGS_default_max_new_tokens);
  l.max_stop_strings = absl::GetFlag(FLAGS_max_stop_strings);

  std::string dir = absl::GetFlag(FLAGS_checkpoint);
  if (dir.empty()) dir = DefaultModelDir();
  auto fail_load = [&](absl::string_view what, const absl::Status& s) {
    std::fprintf(stderr, "mot-server: %s: %s\n", std::string(what).c_str(),
                 std::string(s.message()).c_str());
    if (absl::GetFlag(FLAGS_checkpoint).empty()) {
      std::fprintf(stderr,
                   "(no --checkpoint given, so the default model %s was tried; train it with "
                   "mot-train or pass --checkpoint)\n",
                   dir.c_str());
    }
    return 1;
  };
  // A bad --device or CPU option is refused before anything loads.
  const backend::CpuOptions cpu_options{.batch_invariant = absl::GetFlag(FLAGS_batch_invariant),
                                        .bf16_gemm = absl::GetFlag(FLAGS_cpu_bf16_gemm)};
  for (const absl::Status& s : {backend::CheckDeviceName(absl::GetFlag(FLAGS_device)),
                                backend::CheckCpuOptions(cpu_options)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "mot-server: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  // config.json alone first (cheap) for the metrics' tower labels; then listen at once, so
  // health checks see NOT_SERVING while the weights load and are verified.
  absl::StatusOr<MotConfig> config = LoadMotConfig(dir + "/config.json");
  if (!config.ok()) return fail_load("cannot load the checkpoint", config.status());
  so.tower_names = config->modalities;
  absl::StatusOr<std::unique_ptr<MotServer>> server = MotServer::Start(so);
  if (!server.ok()) {
    std::fprintf(stderr, "mot-server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  // The backend (after the listeners: civetweb failed to start its metrics server when the
  // backend and its threads came first).
  ThreadPool pool(absl::GetFlag(FLAGS_threads));
  std::string device_note;
  absl::StatusOr<std::unique_ptr<backend::Backend>> backend =
      backend::CreateBackend(absl::GetFlag(FLAGS_device), &pool, cpu_options, &device_note);
  if (!backend.ok()) {
    std::fprintf(stderr, "mot-server: %s\n", std::string(backend.status().message()).c_str());
    return 1;
  }
  Log(LogLevel::kInfo, "backend",
      {{"name", std::string((*backend)->name())}, {"why", device_note}});
  if ((*backend)->device_memory() && absl::GetFlag(FLAGS_batch_invariant)) {
    Log(LogLevel::kWarning, "batch_invariant_ignored",
        {{"why",
          "--batch_invariant is a CPU backend mode; the GPU's GEMMs are not batch-invariant"}});
  }
  CheckpointOpenOptions co;
  co.verify_sha256 = absl::GetFlag(FLAGS_verify_sha256);
  const absl::Time load_start = absl::Now();
  absl::StatusOr<Checkpoint> ckpt = Checkpoint::Open(dir, co);
  if (!ckpt.ok()) return fail_load("cannot load the checkpoint", ckpt.status());
  Log(LogLevel::kInfo, "checkpoint_loaded",
      {{"dir", dir}, {"ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - load_start))}});

  engine::EngineOptions eo;
  eo.block_size = absl::GetFlag(FLAGS_block_size);
  int64_t kv_mb = absl::GetFlag(FLAGS_kv_budget_mb);
  if (kv_mb < 0) {
    std::fprintf(stderr, "mot-server: --kv_budget_mb: must be >= 0, got %lld\n",
                 static_cast<long long>(kv_mb));
    return 1;
  }
  if (kv_mb == 0 && !(*backend)->device_memory()) kv_mb = 256;
  eo.kv_budget_bytes = kv_mb << 20;
  eo.device_memory_fraction = absl::GetFlag(FLAGS_gpu_memory_fraction);
  eo.max_running = absl::GetFlag(FLAGS_max_running);
  eo.max_queue = absl::GetFlag(FLAGS_max_queue);
  eo.max_step_tokens = absl::GetFlag(FLAGS_max_step_tokens);
  eo.prefix_caching = absl::GetFlag(FLAGS_prefix_caching);
  eo.encode_threads = absl::GetFlag(FLAGS_encode_threads);
  const size_t towers = ckpt->config().modalities.size();
  const std::vector<std::string> kv_dtypes = absl::GetFlag(FLAGS_kv_dtype);
  if (!kv_dtypes.empty() && kv_dtypes.size() != 1 && kv_dtypes.size() != towers) {
    std::fprintf(stderr,
                 "mot-server: --kv_dtype has %zu entries; give one, or one per tower (%zu)\n",
                 kv_dtypes.size(), towers);
    return 1;
  }
  for (size_t i = 0; i < (kv_dtypes.empty() ? 0 : towers); ++i) {
    const std::string& name = kv_dtypes[kv_dtypes.size() == 1 ? 0 : i];
    const std::optional<DType> dt = ParseDType(absl::AsciiStrToUpper(name));
    if (!dt.has_value()) {
      std::fprintf(stderr, "mot-server: --kv_dtype: unknown dtype \"%s\" (f32, bf16, f16)\n",
                   name.c_str());
      return 1;
    }
    eo.pool_dtypes.push_back(*dt);
  }
  const std::vector<std::string> shares = absl::GetFlag(FLAGS_kv_pool_shares);
  if (!shares.empty() && shares.size() != towers) {
    std::fprintf(stderr,
                 "mot-server: --kv_pool_shares has %zu entries; the checkpoint has %zu towers\n",
                 shares.size(), towers);
    return 1;
  }
  for (const std::string& share : shares) {
    double v = 0;
    if (!absl::SimpleAtod(share, &v) || !(v > 0)) {
      std::fprintf(stderr, "mot-server: --kv_pool_shares: \"%s\" is not a positive number\n",
                   share.c_str());
      return 1;
    }
    eo.pool_shares.push_back(v);
  }
  absl::StatusOr<std::unique_ptr<engine::Engine>> engine =
      engine::Engine::Create(eo, &*ckpt, backend->get());
  if (!engine.ok()) {
    std::fprintf(stderr, "mot-server: cannot start the engine: %s\n",
                 std::string(engine.status().message()).c_str());
    return 1;
  }
  // Loading freed large temporaries (the tokenizers' parsed JSON documents, checkpoint
  // checks): hand that heap back to the system, so the serving process's resident memory is
  // what it keeps (a 7.3 MiB tokenizer.json with 150k tokens: 67 -> 27 MiB resident after
  // its load; bench/results/tokenizer_load_2026-12-02.md).
  malloc_trim(0);
  if (absl::GetFlag(FLAGS_warmup)) {
    const absl::Time t0 = absl::Now();
    if (absl::Status s = WarmUp(**engine); !s.ok()) {
      std::fprintf(stderr, "mot-server: warm-up failed: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    Log(LogLevel::kInfo, "warmup_done",
        {{"ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - t0))}});
  }
  (*server)->SetEngine(engine->get(), InfoOf(*ckpt, (*engine)->prompt_builder()),
                       ckpt->config().max_seq_len, LoadChatSetup(dir));

  int sig = 0;
  sigwait(&signals, &sig);
  Log(LogLevel::kInfo, "signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Drain(absl::Seconds(absl::GetFlag(FLAGS_drain_grace_s)));
  server->reset();  // before the engine: no stream may outlive it
  engine->reset();
  return 0;
}

}  // namespace
}  // namespace mot::server

int main(int argc, char** argv) {
  // --help lists this file's flags (absl matches files by the binary's name by default,
  // which a hyphenated binary name never matches).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "Serves a MoT checkpoint over gRPC.\n"
      "  mot-server [--checkpoint=DIR] [--address=127.0.0.1:50051] [--metrics_address=...]\n"
      "Health: grpc.health.v1 (NOT_SERVING until the model is loaded and warmed).");
  absl::ParseCommandLine(argc, argv);
  return mot::server::Main();
}
