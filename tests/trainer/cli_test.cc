// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/cli.h"

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "trainer/commands.h"

ABSL_DECLARE_FLAG(int32_t, text_vocab);
ABSL_DECLARE_FLAG(bool, demo);
ABSL_DECLARE_FLAG(std::string, out);

namespace mot::trainer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<bool> Parse(const Subcommand& c, std::vector<std::string> args) {
  return ParseSubcommandFlags(c, args);
}

TEST(CliTest, SetsFlagsInEverySpelling) {
  const Subcommand tok = TokenizersCommand();
  ASSERT_THAT(Parse(tok, {"--text-vocab=300", "--out", "/tmp/x"}), IsOk());
  EXPECT_EQ(absl::GetFlag(FLAGS_text_vocab), 300);
  EXPECT_EQ(absl::GetFlag(FLAGS_out), "/tmp/x");
  const Subcommand data = DataCommand();
  ASSERT_THAT(Parse(data, {"--demo"}), IsOk());
  EXPECT_TRUE(absl::GetFlag(FLAGS_demo));
  ASSERT_THAT(Parse(data, {"--nodemo"}), IsOk());
  EXPECT_FALSE(absl::GetFlag(FLAGS_demo));
}

TEST(CliTest, UsageErrorsNameTheFlag) {
  const Subcommand data = DataCommand();
  absl::StatusOr<bool> r = Parse(data, {"--text_vocab=300"});  // a flag of `tokenizers`
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("--text_vocab: unknown flag for 'mot-train data'")));
  EXPECT_TRUE(IsFlagError(r.status()));
  EXPECT_THAT(Parse(data, {"--scenes=many"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--scenes: bad value")));
  EXPECT_THAT(Parse(data, {"--out"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--out: needs a value")));
  EXPECT_THAT(Parse(data, {"stray"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unexpected argument")));
}

TEST(CliTest, HelpListsOnlyTheSubcommandsFlags) {
  const std::vector<Subcommand> all = AllSubcommands();
  absl::StatusOr<bool> help = Parse(all[0], {"--scenes=3", "--help"});
  ASSERT_THAT(help, IsOk());
  EXPECT_TRUE(*help);
  const std::string data_help = SubcommandHelp("mot-train", DataCommand());
  EXPECT_THAT(data_help, HasSubstr("--speech_scenes"));
  EXPECT_THAT(data_help, Not(HasSubstr("--text_vocab")));
  const std::string program = ProgramHelp("mot-train", all);
  EXPECT_THAT(program, HasSubstr("data"));
  EXPECT_THAT(program, HasSubstr("tokenizers"));
  for (const char* name : {"train", "eval", "compare", "default-model"}) {
    EXPECT_THAT(program, HasSubstr(name));
  }
  const std::string train_help = SubcommandHelp("mot-train", TrainCommand());
  EXPECT_THAT(train_help, HasSubstr("--resume"));
  EXPECT_THAT(train_help, Not(HasSubstr("--speech_scenes")));
}

TEST(CliTest, RunCliExitsTwoOnUsageErrorsAndOneOnFailures) {
  std::vector<Subcommand> commands = {
      {"ok", "", "usage: ok", {"out"}, [] { return absl::OkStatus(); }},
      {"flagfail", "", "usage", {"out"}, [] { return FlagError("out", "is required"); }},
      {"fail", "", "usage", {"out"}, [] { return absl::NotFoundError("gone"); }}};
  auto run = [&](std::vector<std::string> args) {
    std::vector<char*> argv;
    args.insert(args.begin(), "mot-train");
    for (std::string& a : args) argv.push_back(a.data());
    return RunCli(static_cast<int>(argv.size()), argv.data(), commands);
  };
  EXPECT_EQ(run({"ok"}), 0);
  EXPECT_EQ(run({"ok", "--help"}), 0);
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"nope"}), 2);
  EXPECT_EQ(run({"ok", "--seed=1"}), 2);
  EXPECT_EQ(run({"flagfail"}), 2);
  EXPECT_EQ(run({"fail"}), 1);
}

}  // namespace
}  // namespace mot::trainer
