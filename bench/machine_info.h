// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/machine_info.h
// What a benchmark's footer says about the machine it ran on: the CPU model, the load
// average (figures are only comparable on a quiet machine), and the output of a shell
// command (the commit). Shared by the benchmark tools.
#ifndef MOT_BENCH_MACHINE_INFO_H_
#define MOT_BENCH_MACHINE_INFO_H_

#include <string>

namespace mot::bench {

// The command's stdout with trailing newlines and spaces removed; "" when it cannot run.
std::string RunCommand(const std::string& cmd);
// /proc/cpuinfo's first "model name"; "unknown" without one.
std::string CpuModel();
// /proc/loadavg's three averages, "1.02 0.88 0.75".
std::string LoadAvg();

}  // namespace mot::bench

#endif  // MOT_BENCH_MACHINE_INFO_H_
