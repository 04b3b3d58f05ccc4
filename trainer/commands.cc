// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/commands.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/core/status_macros.h"
#include "engine/core/thread_pool.h"
#include "trainer/atomic_dir.h"
#include "trainer/demo_data.h"
#include "trainer/manifest.h"
#include "trainer/pack.h"
#include "trainer/progress.h"
#include "trainer/tokenizer_dir.h"
#include "trainer/tokenizer_training.h"

// Shared by several subcommands.
ABSL_FLAG(int, threads, 0, "Worker threads, the calling thread included; 0: one per core.");
ABSL_FLAG(std::string, out, "", "Output directory.");
ABSL_FLAG(uint64_t, seed, 0, "Random seed; the same seed gives the same output.");
ABSL_FLAG(bool, strict, false,
          "Stop at the first bad manifest row instead of reporting and skipping it.");
ABSL_FLAG(bool, overwrite, false, "Replace the output if it exists.");

// data
ABSL_FLAG(bool, demo, false, "Make the demo data set (shapes, captions, speech) in --out.");
ABSL_FLAG(int, scenes, 2000, "Demo: training scenes (each gives 3 examples, 5 with speech).");
ABSL_FLAG(int, heldout_scenes, 200,
          "Demo: held-out scenes, drawn only from the (color, shape) pairs kept out of training.");
ABSL_FLAG(int, speech_scenes, 500,
          "Demo: training scenes that also get text-to-speech and speech-to-text examples "
          "(espeak-ng runs once per distinct caption); 0 needs no espeak-ng.");
ABSL_FLAG(int, heldout_speech_scenes, 50, "Demo: held-out scenes that also get speech.");
ABSL_FLAG(std::string, espeak, "espeak-ng", "Demo: the espeak-ng program.");
ABSL_FLAG(int, speech_rate, 160, "Demo: espeak-ng speed in words per minute (-s).");
ABSL_FLAG(std::string, manifest, "",
          "A JSONL manifest (see trainer/manifest.h). Without --pack: checked and copied to "
          "--out/train.jsonl with its paths made relative to --out.");
ABSL_FLAG(bool, pack, false,
          "Tokenize --manifest with the tokenizers of --checkpoint into token shards in --out.");
ABSL_FLAG(std::string, checkpoint, "",
          "Pack: a checkpoint or a tokenizer directory (mot-train tokenizers --out).");
ABSL_FLAG(int64_t, max_tokens, 4096, "Pack: longest example in tokens; longer rows are bad rows.");
ABSL_FLAG(int64_t, shard_tokens, int64_t{16} << 20, "Pack: tokens per shard file (at least).");

// tokenizers
ABSL_FLAG(std::string, data, "",
          "Training data: a manifest file, or a directory holding train.jsonl (mot-train data).");
ABSL_FLAG(int32_t, text_vocab, 512, "Text BPE size, 7 special tokens and 256 bytes included.");
ABSL_FLAG(int64_t, image_codes, 64, "Image codebook size (k-means centers over patches).");
ABSL_FLAG(int, image_size, 64, "Images are resized and center-cropped to this square side.");
ABSL_FLAG(int, patch, 8, "Image patch side; (image_size / patch)^2 tokens per image.");
ABSL_FLAG(int, audio_codes, 256,
          "Audio shape codes per gain level; one token per 20 ms, ids = levels x codes.");
ABSL_FLAG(int, audio_gain_levels, 4, "Audio gain levels (scalar-quantized frame loudness).");
ABSL_FLAG(int, kmeans_iterations, 20, "Lloyd iterations (at most) for both codebooks.");
ABSL_FLAG(int64_t, max_image_patches, 200000, "Image patches sampled for k-means; 0: all.");

namespace mot::trainer {
namespace {

int ThreadCount() {
  const int t = absl::GetFlag(FLAGS_threads);
  if (t > 0) return t;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void PrintBadRow(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

absl::Status RunDemo(ThreadPool* pool) {
  DemoOptions o;
  o.out = absl::GetFlag(FLAGS_out);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.train_scenes = absl::GetFlag(FLAGS_scenes);
  o.heldout_scenes = absl::GetFlag(FLAGS_heldout_scenes);
  o.speech_scenes = absl::GetFlag(FLAGS_speech_scenes);
  o.heldout_speech_scenes = absl::GetFlag(FLAGS_heldout_speech_scenes);
  o.espeak = absl::GetFlag(FLAGS_espeak);
  o.speech_rate = absl::GetFlag(FLAGS_speech_rate);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  o.pool = pool;
  if (o.train_scenes < 1) return FlagError("scenes", "must be >= 1");
  if (o.heldout_scenes < 0) return FlagError("heldout_scenes", "must be >= 0");
  if (o.speech_scenes < 0 || o.speech_scenes > o.train_scenes) {
    return FlagError("speech_scenes", absl::StrCat("must be in [0, --scenes=", o.train_scenes,
                                                   "], got ", o.speech_scenes));
  }
  if (o.heldout_speech_scenes < 0 || o.heldout_speech_scenes > o.heldout_scenes) {
    return FlagError("heldout_speech_scenes",
                     absl::StrCat("must be in [0, --heldout_scenes=", o.heldout_scenes, "], got ",
                                  o.heldout_speech_scenes));
  }
  if (o.speech_rate < 80 || o.speech_rate > 450) {
    return FlagError("speech_rate", "must be in [80, 450] (espeak-ng's range)");
  }
  MOT_ASSIGN_OR_RETURN(DemoReport r, MakeDemoData(o));
  std::printf(
      "demo data in %s: %lld training and %lld held-out examples, %lld images (%.2f s), "
      "%lld WAVs from espeak-ng (%.2f s)\n",
      o.out.c_str(), static_cast<long long>(r.train_examples),
      static_cast<long long>(r.heldout_examples), static_cast<long long>(r.images), r.image_seconds,
      static_cast<long long>(r.wavs), r.speech_seconds);
  return absl::OkStatus();
}

// --manifest without --pack: the good rows, with paths relative to --out, in
// --out/train.jsonl, so `tokenizers --data` and `data --pack` read user data as the demo's.
absl::Status RunImport(BadRowPolicy policy) {
  namespace fs = std::filesystem;
  const std::string manifest_path = ResolveManifestPath(absl::GetFlag(FLAGS_manifest));
  const std::string out = absl::GetFlag(FLAGS_out);
  MOT_ASSIGN_OR_RETURN(
      Manifest m, ReadManifest(manifest_path, policy, /*check_files=*/true, [&](const BadRow& row) {
        PrintBadRow(FormatBadRow(manifest_path, row));
      }));
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", out));
  const std::string target = (fs::path(out) / "train.jsonl").string();
  if (fs::exists(target, ec) && !absl::GetFlag(FLAGS_overwrite)) {
    return absl::AlreadyExistsError(absl::StrCat(target, " exists (pass --overwrite)"));
  }
  // Paths are resolved against the manifest's folder; rewrite them against --out.
  const std::string base = fs::absolute(out).lexically_normal().string();
  std::string text;
  for (ManifestExample& e : m.examples) {
    for (ManifestPart& p : e.parts) {
      if (p.modality != tokenizer::Modality::kText) {
        p.value = fs::absolute(p.value).lexically_normal().string();
      }
    }
    absl::StrAppend(&text, ManifestExampleToJson(e, base), "\n");
  }
  MOT_RETURN_IF_ERROR(WriteFileSynced(target + ".tmp", text));
  fs::rename(target + ".tmp", target, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename into ", target));
  std::printf("%s: %zu examples kept, %zu bad rows skipped -> %s\n", manifest_path.c_str(),
              m.examples.size(), m.bad_rows.size(), target.c_str());
  return absl::OkStatus();
}

absl::Status RunPack(BadRowPolicy policy, ThreadPool* pool) {
  const std::string checkpoint = absl::GetFlag(FLAGS_checkpoint);
  if (checkpoint.empty()) return FlagError("checkpoint", "--pack needs a tokenizer directory");
  const int64_t max_tokens = absl::GetFlag(FLAGS_max_tokens);
  if (max_tokens < 2) return FlagError("max_tokens", "must be >= 2");
  if (absl::GetFlag(FLAGS_shard_tokens) < 1) return FlagError("shard_tokens", "must be >= 1");
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::PromptBuilder> builder,
                       LoadPromptBuilder(checkpoint, max_tokens));
  PackOptions o;
  o.manifest = ResolveManifestPath(absl::GetFlag(FLAGS_manifest));
  o.out = absl::GetFlag(FLAGS_out);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  o.policy = policy;
  o.max_tokens = max_tokens;
  o.max_shard_tokens = absl::GetFlag(FLAGS_shard_tokens);
  o.pool = pool;
  o.on_bad_row = PrintBadRow;
  MOT_ASSIGN_OR_RETURN(PackReport r, PackManifest(*builder, o));
  std::printf("packed %lld examples (%lld tokens, %lld scored) into %s; %lld bad rows skipped\n",
              static_cast<long long>(r.examples), static_cast<long long>(r.tokens),
              static_cast<long long>(r.loss_tokens), o.out.c_str(),
              static_cast<long long>(r.bad_rows));
  return absl::OkStatus();
}

absl::Status RunData() {
  const bool demo = absl::GetFlag(FLAGS_demo), pack = absl::GetFlag(FLAGS_pack);
  const std::string manifest = absl::GetFlag(FLAGS_manifest);
  if (absl::GetFlag(FLAGS_out).empty()) return FlagError("out", "is required");
  if (absl::GetFlag(FLAGS_threads) < 0) return FlagError("threads", "must be >= 0");
  if (demo && (pack || !manifest.empty())) {
    return FlagError("demo", "makes its own data: leave out --manifest and --pack");
  }
  if (!demo && manifest.empty()) {
    return FlagError("manifest", "give --demo, or --manifest (with --pack to pack it)");
  }
  ThreadPool pool(ThreadCount());
  const BadRowPolicy policy =
      absl::GetFlag(FLAGS_strict) ? BadRowPolicy::kStrict : BadRowPolicy::kSkip;
  if (demo) return RunDemo(&pool);
  if (pack) return RunPack(policy, &pool);
  return RunImport(policy);
}

absl::Status RunTokenizers() {
  TokenizerTrainingOptions o;
  if (absl::GetFlag(FLAGS_data).empty()) return FlagError("data", "is required");
  if (absl::GetFlag(FLAGS_out).empty()) return FlagError("out", "is required");
  if (absl::GetFlag(FLAGS_threads) < 0) return FlagError("threads", "must be >= 0");
  o.manifest = ResolveManifestPath(absl::GetFlag(FLAGS_data));
  o.out = absl::GetFlag(FLAGS_out);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  o.policy = absl::GetFlag(FLAGS_strict) ? BadRowPolicy::kStrict : BadRowPolicy::kSkip;
  o.text_vocab = absl::GetFlag(FLAGS_text_vocab);
  o.image_codes = absl::GetFlag(FLAGS_image_codes);
  o.image_size = absl::GetFlag(FLAGS_image_size);
  o.patch = absl::GetFlag(FLAGS_patch);
  o.audio_codes = absl::GetFlag(FLAGS_audio_codes);
  o.audio_gain_levels = absl::GetFlag(FLAGS_audio_gain_levels);
  o.kmeans_iterations = absl::GetFlag(FLAGS_kmeans_iterations);
  o.max_image_patches = absl::GetFlag(FLAGS_max_image_patches);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.on_bad_row = PrintBadRow;
  if (o.max_image_patches < 0) return FlagError("max_image_patches", "must be >= 0");
  ThreadPool pool(ThreadCount());
  o.pool = &pool;
  absl::StatusOr<TokenizerTrainingReport> r = TrainTokenizers(o);
  if (!r.ok()) {
    // Option errors name the option as the flag of the same name: make them usage errors.
    const absl::string_view msg = r.status().message();
    for (const char* flag : {"text_vocab", "image_size", "patch", "image_codes", "audio_codes",
                             "audio_gain_levels", "kmeans_iterations"}) {
      if (absl::StartsWith(msg, absl::StrCat(flag, " must"))) {
        return FlagError(flag, msg.substr(absl::string_view(flag).size() + 1));
      }
    }
    return r.status();
  }
  std::printf(
      "tokenizers in %s: text BPE %d ids from %lld texts, %lld images, %lld audio files "
      "(%.1f s); unified vocabulary %d ids; %lld examples used, %lld bad rows skipped\n",
      o.out.c_str(), r->text_vocab, static_cast<long long>(r->texts),
      static_cast<long long>(r->images), static_cast<long long>(r->audio_files), r->audio_seconds,
      r->vocab_size, static_cast<long long>(r->examples), static_cast<long long>(r->bad_rows));
  return absl::OkStatus();
}

}  // namespace

Subcommand DataCommand() {
  return {"data",
          "make the demo data set, import a manifest, or pack a manifest into token shards",
          "usage: mot-train data --demo --out DIR [--seed N] [--scenes N] [--speech_scenes N]\n"
          "       mot-train data --manifest FILE.jsonl --out DIR [--strict]\n"
          "       mot-train data --pack --manifest FILE.jsonl --checkpoint CKPT --out SHARDS\n\n"
          "--demo: seeded 64x64 scenes of shapes with captions, captioning / text-to-image /\n"
          "plain-text examples, speech examples spoken by espeak-ng, and a held-out split of\n"
          "(color, shape) pairs never seen in training: DIR/train.jsonl, DIR/heldout.jsonl,\n"
          "DIR/images, DIR/audio, DIR/info.json.\n"
          "Manifest (JSONL, one example per line; paths relative to the manifest's folder):\n"
          "  {\"parts\": [{\"text\": \"...\"}, {\"image\": \"a.png\"}, {\"audio\": \"a.wav\"}],\n"
          "   \"loss\": \"last\" | \"all\", \"meta\": {...}}\n"
          "loss \"last\" (default) trains on the last part only, \"all\" on every token.\n"
          "A bad row is reported as FILE:LINE: reason and skipped (or fatal with --strict).\n"
          "--pack writes memory-mapped shards (trainer/shard_format.h) read by ShardReader.",
          {"demo", "out", "seed", "scenes", "heldout_scenes", "speech_scenes",
           "heldout_speech_scenes", "espeak", "speech_rate", "manifest", "pack", "checkpoint",
           "max_tokens", "shard_tokens", "strict", "overwrite", "threads"},
          RunData};
}

Subcommand TokenizersCommand() {
  return {"tokenizers",
          "train the text BPE and the image and audio codebooks into a tokenizer directory",
          "usage: mot-train tokenizers --data DIR|FILE.jsonl --out CKPT_DIR [--text_vocab N]\n"
          "         [--image_codes K] [--image_size 64] [--patch 8] [--audio_codes K]\n\n"
          "Writes CKPT_DIR/tokenizer.json, image_tokenizer.safetensors,\n"
          "audio_tokenizer.safetensors (for the modalities the data has) and config.json with\n"
          "the vocabulary section (ranges and special tokens), which model training completes.\n"
          "The directory is written under a temporary name and renamed into place.",
          {"data", "out", "text_vocab", "image_codes", "image_size", "patch", "audio_codes",
           "audio_gain_levels", "kmeans_iterations", "max_image_patches", "seed", "strict",
           "overwrite", "threads"},
          RunTokenizers};
}

std::vector<Subcommand> AllSubcommands() {
  return {DataCommand(), TokenizersCommand(), TrainCommand(),
          EvalCommand(), CompareCommand(),    DefaultModelCommand()};
}

}  // namespace mot::trainer
