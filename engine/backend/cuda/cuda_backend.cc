// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/backend/cuda/cuda_kernels.h"

namespace mot::backend::cuda {
namespace {

// Block-per-row kernels put the row count on grid.x.
constexpr int64_t kMaxGridRows = std::numeric_limits<int32_t>::max();
// Plans kept before the cache is emptied: one per distinct (shape, strides, dtype) a model
// meets; prefill chunk sizes vary, so bound it.
constexpr size_t kMaxPlans = 4096;

// "engine/backend/cuda/cuda_backend.cc" out of __FILE__ (the build passes absolute paths).
const char* RepoPath(const char* file) {
  const char* p = std::strstr(file, "engine/");
  return p != nullptr ? p : file;
}

// The function a call's text names: "cudaMemcpyAsync(dst, src, ...)" -> "cudaMemcpyAsync".
std::string CallName(const char* call) {
  const std::string s(call);
  return s.substr(0, s.find('('));
}

// The largest power of two (up to 256) dividing the address: what cuBLASLt may assume.
uint32_t Alignment(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 1;
  while (align < 256 && (a & (2 * uintptr_t{align} - 1)) == 0) align *= 2;
  return align;
}

cudaDataType CudaType(DType t) {
  switch (t) {
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF16:
      return CUDA_R_16F;
    default:
      return CUDA_R_32F;
  }
}

bool IsSupportedWeight(DType t) {
  return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16;
}

}  // namespace

// Checks a cudaError_t or cublasStatus_t; records the first failure (sticky) and yields
// false. The call's text names the failure.
#define MOT_CUDA_CHECK(call) Check((call), #call, __LINE__)

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(int device_index) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    std::string reason = absl::StrCat(cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    if (err == cudaErrorInsufficientDriver) {
      int driver = 0, runtime = 0;
      (void)cudaDriverGetVersion(&driver);
      (void)cudaRuntimeGetVersion(&runtime);
      (void)cudaGetLastError();
      reason =
          driver == 0
              ? absl::StrCat("insufficient driver: no NVIDIA driver is loaded (", reason, ")")
              : absl::StrCat("insufficient driver: the NVIDIA driver supports CUDA ", driver / 1000,
                             ".", driver % 1000 / 10, ", this build's runtime is CUDA ",
                             runtime / 1000, ".", runtime % 1000 / 10);
    }
    return absl::UnavailableError(absl::StrCat("no usable CUDA device: ", reason));
  }
  if (count == 0) return absl::UnavailableError("no usable CUDA device: none visible");
  if (device_index < 0 || device_index >= count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CUDA device index ", device_index, " is not one of the ", count, " visible devices"));
  }
  cudaDeviceProp prop;
  if (const cudaError_t e = cudaGetDeviceProperties(&prop, device_index); e != cudaSuccess) {
    (void)cudaGetLastError();
    return absl::InternalError(
        absl::StrCat("cudaGetDeviceProperties(", device_index, "): ", cudaGetErrorString(e)));
  }
  if (prop.major < 8) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CUDA device ", device_index, " (", prop.name, ") has compute capability ", prop.major, ".",
        prop.minor, "; the CUDA backend needs 8.0 or newer (built for sm_80 and sm_90)"));
  }
  std::unique_ptr<CudaBackend> b(
      new CudaBackend(device_index, absl::StrCat("cuda:", prop.name), prop.multiProcessorCount));
  // Each step stops at the first failure; status_ then names it.
  (void)(b->MOT_CUDA_CHECK(cudaSetDevice(device_index)) &&
         b->MOT_CUDA_CHECK(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking)) &&
         b->MOT_CUDA_CHECK(cublasLtCreate(&b->lt_)) &&
         b->MOT_CUDA_CHECK(cudaMalloc(&b->workspace_, kWorkspaceBytes)) &&
         b->MOT_CUDA_CHECK(InitKernels()));
  if (!b->status_.ok()) return b->status_;
  return b;
}

CudaBackend::CudaBackend(int device, std::string name, int sm_count)
    : device_(device), name_(std::move(name)), sm_count_(sm_count) {}

CudaBackend::~CudaBackend() {
  // Log-only: a destructor cannot return the failure, and after a sticky one the context
  // may refuse everything, which says nothing new.
  const bool report = status_.ok();
  auto log = [report](cudaError_t err, const char* what) {
    if (err != cudaSuccess && report) {
      std::fprintf(stderr, "CudaBackend: %s: %s\n", what, cudaGetErrorString(err));
    }
  };
  log(cudaSetDevice(device_), "cudaSetDevice");
  if (stream_ != nullptr) log(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  for (auto& [key, plan] : plans_) DestroyPlan(plan);
  plans_.clear();
  for (Scratch* s : {&x16_, &partial_, &inv_freq_dev_}) {
    if (s->data != nullptr) log(cudaFree(s->data), "cudaFree");
  }
  if (workspace_ != nullptr) log(cudaFree(workspace_), "cudaFree");
  if (lt_ != nullptr && cublasLtDestroy(lt_) != CUBLAS_STATUS_SUCCESS && report) {
    std::fprintf(stderr, "CudaBackend: cublasLtDestroy failed\n");
  }
  if (stream_ != nullptr) log(cudaStreamDestroy(stream_), "cudaStreamDestroy");
  (void)cudaGetLastError();
}

bool CudaBackend::Check(cudaError_t err, const char* call, int line) {
  if (err == cudaSuccess) return true;
  (void)cudaGetLastError();  // the runtime's last error: not to be reported twice
  Fail(absl::InternalError(absl::StrCat(CallName(call), " (", RepoPath(__FILE__), ":", line, "): ",
                                        cudaGetErrorName(err), ": ", cudaGetErrorString(err))));
  return false;
}

bool CudaBackend::Check(cublasStatus_t st, const char* call, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return true;
  Fail(absl::InternalError(absl::StrCat(CallName(call), " (", RepoPath(__FILE__), ":", line,
                                        "): ", cublasLtGetStatusName(st))));
  return false;
}

void CudaBackend::Fail(absl::Status s) {
  if (status_.ok()) status_ = std::move(s);
}

bool CudaBackend::Ready() { return status_.ok() && MOT_CUDA_CHECK(cudaSetDevice(device_)); }

// ---- Memory face.

absl::StatusOr<void*> CudaBackend::Allocate(int64_t bytes) {
  if (bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat(name_, ": Allocate of ", bytes, " bytes"));
  }
  if (!Ready()) return status_;
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(bytes, 1)));
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
    return absl::ResourceExhaustedError(absl::StrCat(name_, ": cannot allocate ", bytes,
                                                     " bytes of device memory (", free_bytes,
                                                     " of ", total_bytes, " bytes free)"));
  }
  if (!MOT_CUDA_CHECK(err)) return status_;
  return p;
}

void CudaBackend::Free(void* p) {
  if (p == nullptr) return;
  if (!status_.ok()) {
    // Best effort after a failure; the context may be gone.
    (void)cudaSetDevice(device_);
    (void)cudaFree(p);
    (void)cudaGetLastError();
    return;
  }
  // Ops queued on the stream may still read p: wait for them first.
  (void)(Ready() && MOT_CUDA_CHECK(cudaStreamSynchronize(stream_)) && MOT_CUDA_CHECK(cudaFree(p)));
}

void CudaBackend::CopyToBackend(void* dst, const void* src, int64_t bytes) {
  if (bytes <= 0 || !Ready()) return;
  MOT_CUDA_CHECK(
      cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::CopyToHost(void* dst, const void* src, int64_t bytes) {
  if (bytes <= 0 || !Ready()) return;
  (void)(MOT_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes),
                                        cudaMemcpyDeviceToHost, stream_)) &&
         MOT_CUDA_CHECK(cudaStreamSynchronize(stream_)));
}

absl::Status CudaBackend::Synchronize() {
  if (Ready()) MOT_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return status_;
}

absl::Status CudaBackend::SupportsWeightDType(DType dtype) const {
  if (IsSupportedWeight(dtype)) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat("weights of dtype ", DTypeName(dtype),
                                               " are not supported by the cuda backend (", name_,
                                               "): F32, BF16 and F16 are"));
}

absl::StatusOr<Backend::MemoryInfo> CudaBackend::QueryMemory() {
  if (!Ready()) return status_;
  size_t free_bytes = 0, total_bytes = 0;
  if (!MOT_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes))) return status_;
  return MemoryInfo{static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

void* CudaBackend::Grow(Scratch& s, int64_t bytes) {
  if (s.data != nullptr && s.bytes >= bytes) return s.data;
  if (s.data != nullptr) {
    // Queued ops may still use the old buffer.
    const bool freed =
        MOT_CUDA_CHECK(cudaStreamSynchronize(stream_)) && MOT_CUDA_CHECK(cudaFree(s.data));
    if (!freed) return nullptr;
    s.data = nullptr;
  }
  // Geometric growth: a step of a larger batch does not reallocate every time.
  const int64_t want = std::max(bytes, 2 * s.bytes);
  s.bytes = 0;
  const cudaError_t err = cudaMalloc(&s.data, static_cast<size_t>(want));
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    s.data = nullptr;
    Fail(absl::ResourceExhaustedError(
        absl::StrCat(name_, ": cannot allocate ", want, " bytes of scratch")));
    return nullptr;
  }
  if (!MOT_CUDA_CHECK(err)) {
    s.data = nullptr;
    return nullptr;
  }
  s.bytes = want;
  return s.data;
}

// ---- Linear.

void CudaBackend::DestroyPlan(Plan& plan) {
  // Descriptors are host objects read when a matmul is queued: destroying them later is
  // safe. Destroy results are ignored (nothing to do about them).
  if (plan.c != nullptr) (void)cublasLtMatrixLayoutDestroy(plan.c);
  if (plan.b != nullptr) (void)cublasLtMatrixLayoutDestroy(plan.b);
  if (plan.a != nullptr) (void)cublasLtMatrixLayoutDestroy(plan.a);
  if (plan.desc != nullptr) (void)cublasLtMatmulDescDestroy(plan.desc);
  plan = Plan();
}

CudaBackend::Plan* CudaBackend::GetPlan(const PlanKey& key) {
  if (auto it = plans_.find(key); it != plans_.end()) return &it->second;
  if (plans_.size() >= kMaxPlans) {
    for (auto& [k, p] : plans_) DestroyPlan(p);
    plans_.clear();
  }
  // Row-major y[m, rows] = x[m, cols] · W[rows, cols]ᵀ is, column-major,
  // D[rows, m] = op_T(A = W as [cols, rows], ld cols) · (B = X as [cols, m], ld ldb),
  // ldd = ldy.
  Plan plan;
  const cudaDataType ab = CudaType(key.dtype);
  const cublasOperation_t transa = CUBLAS_OP_T;
  const cublasOperation_t transb = CUBLAS_OP_N;
  const uint64_t workspace = kWorkspaceBytes;
  cublasLtMatmulPreference_t pref = nullptr;
  bool ok =
      MOT_CUDA_CHECK(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)) &&
      MOT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa,
                                                    sizeof transa)) &&
      MOT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb,
                                                    sizeof transb)) &&
      MOT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&plan.a, ab, static_cast<uint64_t>(key.cols),
                                                static_cast<uint64_t>(key.rows), key.cols)) &&
      MOT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&plan.b, ab, static_cast<uint64_t>(key.cols),
                                                static_cast<uint64_t>(key.m), key.ldb)) &&
      MOT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&plan.c, CUDA_R_32F,
                                                static_cast<uint64_t>(key.rows),
                                                static_cast<uint64_t>(key.m), key.ldy)) &&
      MOT_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&pref)) &&
      MOT_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace)) &&
      MOT_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.align_a, sizeof key.align_a)) &&
      MOT_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.align_b, sizeof key.align_b)) &&
      MOT_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key.align_c, sizeof key.align_c)) &&
      MOT_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(
          pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key.align_c, sizeof key.align_c));
  if (ok) {
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt_, plan.desc, plan.a, plan.b, plan.c,
                                                             plan.c, pref, 1, &result, &found);
    if (st == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
      plan.algo = result.algo;
      plan.has_algo = true;
    } else if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
      ok = MOT_CUDA_CHECK(st);
    }
    // No algorithm (NOT_SUPPORTED or none found): the fallback kernel runs this shape.
  }
  if (pref != nullptr) (void)cublasLtMatmulPreferenceDestroy(pref);
  if (!ok) {
    DestroyPlan(plan);
    return nullptr;
  }
  return &plans_.emplace(key, plan).first->second;
}

void CudaBackend::Linear(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                         int64_t ldy, bool accumulate) {
  if (m <= 0 || w.rows <= 0 || !Ready()) return;
  if (absl::Status s = SupportsWeightDType(w.dtype); !s.ok()) {
    Fail(std::move(s));
    return;
  }
  if (ldy < w.rows) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("Linear: ldy ", ldy, " is less than the weight's rows ", w.rows)));
    return;
  }
  if (w.cols <= 0) {  // an empty sum
    if (!accumulate) {
      MOT_CUDA_CHECK(cudaMemset2DAsync(y, static_cast<size_t>(ldy) * sizeof(float), 0,
                                       static_cast<size_t>(w.rows) * sizeof(float),
                                       static_cast<size_t>(m), stream_));
    }
    return;
  }
  if (ldx < w.cols) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("Linear: ldx ", ldx, " is less than the weight's cols ", w.cols)));
    return;
  }
  if (force_linear_fallback_) {
    MOT_CUDA_CHECK(LaunchLinearFallback(x, m, ldx, w.data, w.dtype, w.rows, w.cols, y, ldy,
                                        accumulate, stream_));
    return;
  }
  const void* b = x;
  int64_t ldb = ldx;
  if (w.dtype != DType::kF32) {
    // The GEMM's B in the weight's 16-bit type (f32 accumulation inside cuBLASLt).
    void* x16 = Grow(x16_, m * w.cols * 2);
    if (x16 == nullptr ||
        !MOT_CUDA_CHECK(LaunchConvertRows(x, m, w.cols, ldx, w.dtype, x16, stream_))) {
      return;
    }
    b = x16;
    ldb = w.cols;
  }
  const PlanKey key{.m = m,
                    .rows = w.rows,
                    .cols = w.cols,
                    .ldb = ldb,
                    .ldy = ldy,
                    .dtype = w.dtype,
                    .accumulate = accumulate,
                    .align_a = Alignment(w.data),
                    .align_b = Alignment(b),
                    .align_c = Alignment(y)};
  Plan* plan = GetPlan(key);
  if (plan == nullptr) return;
  if (!plan->has_algo) {
    MOT_CUDA_CHECK(LaunchLinearFallback(x, m, ldx, w.data, w.dtype, w.rows, w.cols, y, ldy,
                                        accumulate, stream_));
    return;
  }
  const float alpha = 1.0f;
  const float beta = accumulate ? 1.0f : 0.0f;  // beta 0: y is not read (may hold NaN)
  const cublasStatus_t st =
      cublasLtMatmul(lt_, plan->desc, &alpha, w.data, plan->a, b, plan->b, &beta, y, plan->c, y,
                     plan->c, &plan->algo, workspace_, kWorkspaceBytes, stream_);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) {
    // Refused at launch (nothing was queued): this shape takes the fallback from now on.
    plan->has_algo = false;
    MOT_CUDA_CHECK(LaunchLinearFallback(x, m, ldx, w.data, w.dtype, w.rows, w.cols, y, ldy,
                                        accumulate, stream_));
    return;
  }
  Check(st, "cublasLtMatmul", __LINE__);
}

// ---- Row-wise ops.

void CudaBackend::RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                          const float* weight, float eps, float* y, int64_t ldy) {
  if (rows <= 0 || dim <= 0 || !Ready()) return;
  if (rows > kMaxGridRows) {
    Fail(absl::InvalidArgumentError(absl::StrCat("RmsNorm: ", rows, " rows")));
    return;
  }
  MOT_CUDA_CHECK(LaunchRmsNorm(x, rows, dim, ldx, weight, eps, y, ldy, stream_));
}

void CudaBackend::LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                            const float* weight, const float* bias, float eps, float* y,
                            int64_t ldy) {
  if (rows <= 0 || dim <= 0 || !Ready()) return;
  if (rows > kMaxGridRows) {
    Fail(absl::InvalidArgumentError(absl::StrCat("LayerNorm: ", rows, " rows")));
    return;
  }
  MOT_CUDA_CHECK(LaunchLayerNorm(x, rows, dim, ldx, weight, bias, eps, y, ldy, stream_));
}

void CudaBackend::Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                         const int32_t* pos, float theta) {
  const int32_t half = head_dim / 2;
  if (rows <= 0 || half <= 0) return;
  // The same table, in double, as CpuBackend::Rotary; RotaryFreqs uploads it when it
  // differs from the last one.
  if (theta_dim_ != head_dim || theta_ != theta) {
    theta_table_.resize(static_cast<size_t>(half));
    for (int32_t i = 0; i < half; ++i) {
      theta_table_[static_cast<size_t>(i)] =
          std::pow(static_cast<double>(theta), -2.0 * i / static_cast<double>(head_dim));
    }
    theta_dim_ = head_dim;
    theta_ = theta;
  }
  RotaryFreqs(x, rows, ldx, n_heads, head_dim, pos, theta_table_.data());
}

const double* CudaBackend::DeviceInvFreq(const double* inv_freq, int32_t half) {
  const size_t n = static_cast<size_t>(half);
  if (inv_freq_dev_.data == nullptr || inv_freq_host_.size() != n ||
      std::memcmp(inv_freq_host_.data(), inv_freq, n * sizeof(double)) != 0) {
    if (Grow(inv_freq_dev_, static_cast<int64_t>(n * sizeof(double))) == nullptr) return nullptr;
    inv_freq_host_.assign(inv_freq, inv_freq + n);
    // Pageable source: staged before cudaMemcpyAsync returns, so the vector may change later.
    if (!MOT_CUDA_CHECK(cudaMemcpyAsync(inv_freq_dev_.data, inv_freq_host_.data(),
                                        n * sizeof(double), cudaMemcpyHostToDevice, stream_))) {
      inv_freq_host_.clear();
      return nullptr;
    }
  }
  return static_cast<const double*>(inv_freq_dev_.data);
}

void CudaBackend::RotaryFreqs(float* x, int64_t rows, int64_t ldx, int32_t n_heads,
                              int32_t head_dim, const int32_t* pos, const double* inv_freq) {
  const int32_t half = head_dim / 2;
  if (rows <= 0 || half <= 0 || n_heads <= 0 || !Ready()) return;
  // The kernel keeps the row's cos/sin in 48 KiB of shared memory: half <= 6144.
  if (rows > kMaxGridRows || half > 4096) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("Rotary: ", rows, " rows of head_dim ", head_dim, " (at most 8192)")));
    return;
  }
  const double* freq = DeviceInvFreq(inv_freq, half);
  if (freq == nullptr) return;
  MOT_CUDA_CHECK(LaunchRotary(x, rows, ldx, n_heads, head_dim, pos, freq, stream_));
}

void CudaBackend::SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
                         int64_t n, float* out, int64_t ldo) {
  if (rows <= 0 || n <= 0 || !Ready()) return;
  MOT_CUDA_CHECK(LaunchSwiGlu(gate, ldg, up, ldu, rows, n, out, ldo, stream_));
}

void CudaBackend::Embedding(const int32_t* ids, int64_t rows, const WeightRef& table, float* y,
                            int64_t ldy) {
  if (rows <= 0 || table.cols <= 0 || !Ready()) return;
  if (!IsSupportedWeight(table.dtype)) {
    Fail(
        absl::UnimplementedError(absl::StrCat("Embedding: tables of dtype ", DTypeName(table.dtype),
                                              " are not supported by the cuda backend")));
    return;
  }
  MOT_CUDA_CHECK(
      LaunchEmbedding(ids, rows, table.data, table.dtype, table.rows, table.cols, y, ldy, stream_));
}

void CudaBackend::StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                          const kv::KvSlot* slots, const kv::KvLayerView& kv) {
  if (rows <= 0 || kv.kv_dim <= 0 || !Ready()) return;
  MOT_CUDA_CHECK(LaunchStoreKv(k, ldk, v, ldv, rows, slots, kv, stream_));
}

void CudaBackend::Attention(const AttentionArgs& a) {
  if (a.rows <= 0 || a.n_heads <= 0 || !Ready()) return;
  if (a.n_kv_heads <= 0 || a.n_heads % a.n_kv_heads != 0 || a.head_dim <= 0 ||
      a.head_dim % 2 != 0 || a.head_dim > kAttentionMaxHeadDim ||
      a.kv.kv_dim < int64_t{a.n_kv_heads} * a.head_dim || a.rows > kMaxGridRows ||
      a.n_heads > 65535) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("Attention: unsupported geometry: ", a.rows, " rows, n_heads ", a.n_heads,
                     ", n_kv_heads ", a.n_kv_heads, ", head_dim ", a.head_dim, ", kv_dim ",
                     a.kv.kv_dim, " (n_kv_heads must divide n_heads; head_dim even, at most ",
                     kAttentionMaxHeadDim, "; kv_dim >= n_kv_heads * head_dim)")));
    return;
  }
  AttentionLaunch l;
  l.q = a.q;
  l.ldq = a.ldq;
  l.rows = a.rows;
  l.seq = a.seq;
  l.pos = a.pos;
  l.kv = a.kv;
  l.n_heads = a.n_heads;
  l.n_kv_heads = a.n_kv_heads;
  l.head_dim = a.head_dim;
  l.scale = a.scale;
  l.window = a.window;
  l.out = a.out;
  l.ldo = a.ldo;
  l.splits = AttentionSplits(a.rows, a.n_heads, a.n_kv_heads, sm_count_);
  if (l.splits > 1) {
    const int64_t floats = AttentionScratchFloats(a.rows, a.n_heads, a.head_dim, l.splits);
    l.partial = static_cast<float*>(Grow(partial_, floats * int64_t{sizeof(float)}));
    if (l.partial == nullptr) return;
  }
  MOT_CUDA_CHECK(LaunchAttention(l, stream_));
}

void CudaBackend::GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows,
                             int64_t cols, float* dst, int64_t ldd) {
  if (rows <= 0 || cols <= 0 || !Ready()) return;
  MOT_CUDA_CHECK(LaunchGatherRows(src, lds, index, rows, cols, dst, ldd, stream_));
}

void CudaBackend::Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                      int64_t ldy) {
  if (rows <= 0 || cols <= 0 || !Ready()) return;
  MOT_CUDA_CHECK(LaunchAdd(x, ldx, rows, cols, y, ldy, stream_));
}

#undef MOT_CUDA_CHECK

}  // namespace mot::backend::cuda
