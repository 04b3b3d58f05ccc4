// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/core/block_quant.h"
#include "engine/core/status_macros.h"
#include "model_loaders/internal/file_util.h"
#include "model_loaders/internal/json_util.h"
#include "model_loaders/safetensors_format.h"
#include "nlohmann/json.hpp"

namespace mot {
namespace safetensors_format {

std::optional<int64_t> CheckedNumBytes(const std::vector<int64_t>& shape, int64_t element_size) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  if (__builtin_mul_overflow(n, element_size, &n)) return std::nullopt;
  return n;
}

}  // namespace safetensors_format

namespace {

namespace fmt = safetensors_format;
using json = nlohmann::json;

// The other dtypes of the safetensors format: known, but not supported by this engine.
bool IsOtherSafetensorsDType(std::string_view s) {
  static constexpr std::string_view kOthers[] = {
      "BOOL", "U8",      "I8",      "I16",     "U16", "I32",     "U32",     "I64", "U64",
      "F64",  "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64"};
  return std::find(std::begin(kOthers), std::end(kOthers), s) != std::end(kOthers);
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status Invalid(std::string_view file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(file), ": ", what));
}

absl::Status InvalidTensor(std::string_view file, const std::string& tensor,
                           const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(file), ": tensor '", tensor, "': ", what));
}

// Reads a JSON value that must be an integer in [0, INT64_MAX].
std::optional<int64_t> NonNegativeInt(const json& v) {
  if (!v.is_number_unsigned()) return std::nullopt;
  const uint64_t u = v.get<uint64_t>();
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u);
}

struct ParsedHeader {
  std::vector<SafetensorsEntry> entries;  // data-offset order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // file offset of the data section
};

absl::Status ParseEntry(std::string_view file, const std::string& name, const json& info,
                        SafetensorsEntry* e) {
  if (!info.is_object()) return InvalidTensor(file, name, "header entry is not a JSON object");
  for (const auto& [key, unused] : info.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return InvalidTensor(file, name, absl::StrCat("unknown key '", key, "'"));
    }
  }
  e->name = name;

  const auto dtype_it = info.find("dtype");
  if (dtype_it == info.end()) return InvalidTensor(file, name, "missing 'dtype'");
  if (!dtype_it->is_string()) return InvalidTensor(file, name, "'dtype' is not a string");
  const std::string& dtype = dtype_it->get_ref<const std::string&>();
  const std::optional<DType> parsed_dtype = ParseDType(dtype);
  if (!parsed_dtype) {
    if (IsOtherSafetensorsDType(dtype)) {
      return InvalidTensor(
          file, name,
          absl::StrCat("unsupported dtype ", dtype, " (supported: F32, F16, BF16, Q8_0, Q4_0)"));
    }
    return InvalidTensor(file, name, absl::StrCat("unknown dtype '", dtype, "'"));
  }
  e->dtype = *parsed_dtype;

  const auto shape_it = info.find("shape");
  if (shape_it == info.end()) return InvalidTensor(file, name, "missing 'shape'");
  if (!shape_it->is_array()) return InvalidTensor(file, name, "'shape' is not an array");
  e->shape.clear();
  for (const json& d : *shape_it) {
    const std::optional<int64_t> dim = NonNegativeInt(d);
    if (!dim) {
      return InvalidTensor(file, name,
                           absl::StrCat("'shape' entry ", loaders_internal::ShortDump(d),
                                        " is not a non-negative 64-bit integer"));
    }
    e->shape.push_back(*dim);
  }
  std::optional<int64_t> nbytes;
  if (IsBlockDType(e->dtype)) {
    // Blocks run along the last dimension: every row holds whole blocks.
    static_assert(fmt::kQuantBlockElements == kQuantBlock);
    static_assert(fmt::kQ8_0BlockBytes == DTypeBlockBytes(DType::kQ8_0));
    static_assert(fmt::kQ4_0BlockBytes == DTypeBlockBytes(DType::kQ4_0));
    if (e->shape.empty() || e->shape.back() % fmt::kQuantBlockElements != 0) {
      return InvalidTensor(
          file, name,
          absl::StrCat("shape ", ShapeString(e->shape), " of ", dtype,
                       ": the last dimension must be a multiple of ", fmt::kQuantBlockElements,
                       " (whole quantization blocks per row)"));
    }
    nbytes = fmt::CheckedNumBytes(e->shape, 1);
    if (nbytes) *nbytes = DTypeBytes(e->dtype, *nbytes);  // smaller than numel * 2: no overflow
  } else {
    nbytes = fmt::CheckedNumBytes(e->shape, DTypeSize(e->dtype));
  }
  if (!nbytes) {
    return InvalidTensor(file, name,
                         absl::StrCat("shape ", ShapeString(e->shape), " of ", dtype,
                                      " overflows a 64-bit byte size"));
  }

  const auto offsets_it = info.find("data_offsets");
  if (offsets_it == info.end()) return InvalidTensor(file, name, "missing 'data_offsets'");
  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    return InvalidTensor(file, name, "'data_offsets' is not an array [begin, end]");
  }
  const std::optional<int64_t> begin = NonNegativeInt((*offsets_it)[0]);
  const std::optional<int64_t> end = NonNegativeInt((*offsets_it)[1]);
  if (!begin || !end) {
    return InvalidTensor(file, name, "'data_offsets' entries are not non-negative 64-bit integers");
  }
  if (*begin > *end) {
    return InvalidTensor(file, name, absl::StrCat("data_offsets begin ", *begin, " > end ", *end));
  }
  e->begin = static_cast<uint64_t>(*begin);
  e->end = static_cast<uint64_t>(*end);
  if (e->end - e->begin != static_cast<uint64_t>(*nbytes)) {
    return InvalidTensor(file, name,
                         absl::StrCat("data_offsets [", e->begin, ", ", e->end, "] span ",
                                      e->end - e->begin, " bytes but shape ", ShapeString(e->shape),
                                      " of ", dtype, " needs ", *nbytes));
  }
  return absl::OkStatus();
}

// Validates the whole image of a file (`size` bytes at `bytes`) and returns its header.
absl::StatusOr<ParsedHeader> ParseImage(const uint8_t* bytes, uint64_t size,
                                        std::string_view file) {
  if (size < fmt::kHeaderLengthBytes) {
    return absl::DataLossError(absl::StrCat(std::string(file), ": file is ", size,
                                            " bytes, too short for the 8-byte header length "
                                            "(truncated file?)"));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > fmt::kMaxHeaderBytes) {
    return Invalid(file, absl::StrCat("header length ", n, " exceeds the limit of ",
                                      fmt::kMaxHeaderBytes, " bytes"));
  }
  if (n > size - fmt::kHeaderLengthBytes) {
    return absl::DataLossError(absl::StrCat(std::string(file), ": header length ", n,
                                            " exceeds the ", size - fmt::kHeaderLengthBytes,
                                            " bytes after the length field (truncated file?)"));
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes) + fmt::kHeaderLengthBytes,
                              static_cast<size_t>(n));
  if (text.empty() || text[0] != '{') return Invalid(file, "header does not start with '{'");

  absl::StatusOr<json> parsed = loaders_internal::ParseStrictJson(text, "header");
  if (!parsed.ok()) return Annotate(parsed.status(), std::string(file));
  const json& header = *parsed;
  if (!header.is_object()) return Invalid(file, "header is not a JSON object");

  ParsedHeader out;
  out.data_start = fmt::kHeaderLengthBytes + n;
  for (const auto& [key, value] : header.items()) {
    if (key == fmt::kMetadataKey) {
      if (!value.is_object()) return Invalid(file, "__metadata__ is not a JSON object");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          return Invalid(file, absl::StrCat("__metadata__ value of '", mkey, "' is not a string"));
        }
        out.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    SafetensorsEntry e;
    MOT_RETURN_IF_ERROR(ParseEntry(file, key, value, &e));
    out.entries.push_back(std::move(e));
  }

  // In offset order the tensors must tile the data section exactly: each begins where the
  // previous one ended (no overlap, no hole) and the last ends at the end of the file.
  std::sort(out.entries.begin(), out.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
            });
  const uint64_t data_size = size - out.data_start;
  uint64_t expected = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& e : out.entries) {
    if (e.begin < expected) {
      return InvalidTensor(
          file, e.name,
          absl::StrCat("data_offsets [", e.begin, ", ", e.end, "] overlap tensor '", previous->name,
                       "' [", previous->begin, ", ", previous->end, "]"));
    }
    if (e.begin > expected) {
      return InvalidTensor(file, e.name,
                           absl::StrCat("data_offsets begin ", e.begin, " leaves a hole of ",
                                        e.begin - expected, " bytes after offset ", expected));
    }
    if (e.end > data_size) {
      return absl::DataLossError(absl::StrCat(
          std::string(file), ": tensor '", e.name, "': data_offsets end ", e.end,
          " is past the end of the ", data_size, "-byte data section (truncated file?)"));
    }
    expected = e.end;
    previous = &e;
  }
  if (expected != data_size) {
    return Invalid(
        file, absl::StrCat("data section is ", data_size, " bytes but the tensors cover ", expected,
                           " (trailing bytes)"));
  }
  return out;
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return loaders_internal::ErrnoError(errno, "cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return loaders_internal::ErrnoError(err, "cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < fmt::kHeaderLengthBytes) {
    ::close(fd);
    return ParseImage(nullptr, size, path).status();  // the truncation error
  }
  void* addr = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // the mapping stays valid
  if (addr == MAP_FAILED) return loaders_internal::ErrnoError(mmap_errno, "cannot mmap", path);
  std::shared_ptr<const void> mapping(
      addr, [size](const void* p) { ::munmap(const_cast<void*>(p), static_cast<size_t>(size)); });

  const auto* bytes = static_cast<const uint8_t*>(addr);
  MOT_ASSIGN_OR_RETURN(ParsedHeader header, ParseImage(bytes, size, path));
  SafetensorsFile f;
  f.path_ = path;
  f.mapping_ = std::move(mapping);
  f.size_ = size;
  f.data_ = bytes + header.data_start;
  f.entries_ = std::move(header.entries);
  f.metadata_ = std::move(header.metadata);
  for (size_t i = 0; i < f.entries_.size(); ++i) f.index_.emplace(f.entries_[i].name, i);
  return f;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::FromBuffer(std::string_view bytes,
                                                            std::string_view name) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  MOT_ASSIGN_OR_RETURN(ParsedHeader header, ParseImage(data, bytes.size(), name));
  SafetensorsFile f;
  f.path_ = std::string(name);
  f.size_ = bytes.size();
  f.data_ = data + header.data_start;
  f.entries_ = std::move(header.entries);
  f.metadata_ = std::move(header.metadata);
  for (size_t i = 0; i < f.entries_.size(); ++i) f.index_.emplace(f.entries_[i].name, i);
  return f;
}

bool SafetensorsFile::Contains(std::string_view name) const {
  return index_.find(name) != index_.end();
}

const SafetensorsEntry* SafetensorsFile::Find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

absl::StatusOr<Tensor> SafetensorsFile::Get(std::string_view name) const {
  const SafetensorsEntry* e = Find(name);
  if (e == nullptr) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor '", std::string(name), "'"));
  }
  const uint8_t* p = data_ + e->begin;
  Tensor view = Tensor::View(e->dtype, e->shape, p);
  // Files written by us or by the Python library keep every tensor aligned to its element
  // size; a hand-made file may not, and a misaligned float* is undefined behaviour.
  if (reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(DTypeAlignment(e->dtype)) != 0) {
    return view.Clone();
  }
  return view;
}

namespace {

struct WritePlan {
  std::string header;                     // length field, JSON and padding
  std::vector<const NamedTensor*> order;  // data order
  uint64_t data_size = 0;
};

absl::StatusOr<WritePlan> PlanWrite(const std::vector<NamedTensor>& tensors,
                                    const std::map<std::string, std::string>& metadata) {
  WritePlan plan;
  std::set<std::string_view> names;
  for (const NamedTensor& t : tensors) {
    if (t.name == fmt::kMetadataKey) {
      return absl::InvalidArgumentError("safetensors: '__metadata__' is not a tensor name");
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: tensor name '", t.name, "' given twice"));
    }
    if (!CheckedNumElements(t.tensor.shape())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "safetensors: tensor '", t.name, "': invalid shape ", ShapeString(t.tensor.shape())));
    }
    if (IsBlockDType(t.tensor.dtype()) &&
        (t.tensor.rank() == 0 || t.tensor.shape().back() % kQuantBlock != 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "safetensors: tensor '", t.name, "': shape ", ShapeString(t.tensor.shape()), " of ",
          DTypeName(t.tensor.dtype()), ": the last dimension must be a multiple of ", kQuantBlock));
    }
    if (t.tensor.numel() > 0 && t.tensor.data() == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: tensor '", t.name, "' has no data"));
    }
    plan.order.push_back(&t);
  }
  // The Python library's order: larger elements first (in its dtype order BF16 sorts after
  // F16, so it is written first), then by name. It keeps every tensor aligned. Q8_0/Q4_0
  // (ours; blocks of an even number of bytes, 2-byte aligned) come last.
  auto rank = [](DType d) {
    switch (d) {
      case DType::kF32:
        return 0;
      case DType::kBF16:
        return 1;
      case DType::kF16:
        return 2;
      case DType::kQ8_0:
      case DType::kQ4_0:
        return 3;
    }
    return 3;
  };
  std::sort(plan.order.begin(), plan.order.end(), [&](const NamedTensor* a, const NamedTensor* b) {
    const int ra = rank(a->tensor.dtype()), rb = rank(b->tensor.dtype());
    return ra != rb ? ra < rb : a->name < b->name;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header[fmt::kMetadataKey] = std::move(m);
  }
  uint64_t offset = 0;
  for (const NamedTensor* t : plan.order) {
    const uint64_t nbytes = static_cast<uint64_t>(t->tensor.nbytes());
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = DTypeName(t->tensor.dtype());
    info["shape"] = t->tensor.shape();
    info["data_offsets"] = {offset, offset + nbytes};
    header[t->name] = std::move(info);
    offset += nbytes;
  }
  plan.data_size = offset;

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        "safetensors: a tensor name or metadata string is not valid UTF-8");
  }
  text.append((fmt::kHeaderAlignment - text.size() % fmt::kHeaderAlignment) % fmt::kHeaderAlignment,
              ' ');
  if (text.size() > fmt::kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors: header of ", text.size(),
                                                   " bytes exceeds the limit of ",
                                                   fmt::kMaxHeaderBytes));
  }
  uint64_t n = text.size();
  plan.header.resize(fmt::kHeaderLengthBytes);
  for (size_t i = 0; i < fmt::kHeaderLengthBytes; ++i) {
    plan.header[i] = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  plan.header += text;
  return plan;
}

}  // namespace

absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<NamedTensor>& tensors, const std::map<std::string, std::string>& metadata) {
  MOT_ASSIGN_OR_RETURN(WritePlan plan, PlanWrite(tensors, metadata));
  std::string out;
  out.reserve(plan.header.size() + plan.data_size);
  out += plan.header;
  for (const NamedTensor* t : plan.order) {
    if (t->tensor.nbytes() == 0) continue;
    out.append(static_cast<const char*>(t->tensor.data()), static_cast<size_t>(t->tensor.nbytes()));
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  MOT_ASSIGN_OR_RETURN(WritePlan plan, [&]() -> absl::StatusOr<WritePlan> {
    auto p = PlanWrite(tensors, metadata);
    if (!p.ok()) return Annotate(p.status(), path);
    return p;
  }());
  return loaders_internal::WriteFileAtomically(path, [&](int fd) -> absl::Status {
    MOT_RETURN_IF_ERROR(
        loaders_internal::WriteAll(fd, plan.header.data(), plan.header.size(), path));
    for (const NamedTensor* t : plan.order) {
      MOT_RETURN_IF_ERROR(loaders_internal::WriteAll(
          fd, t->tensor.data(), static_cast<size_t>(t->tensor.nbytes()), path));
    }
    return absl::OkStatus();
  });
}

}  // namespace mot
