// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/internal/json_util.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mot::loaders_internal {

using json = nlohmann::json;

absl::StatusOr<json> ParseStrictJson(std::string_view text, std::string_view what) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  bool found_duplicate = false;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!found_duplicate && !open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get_ref<const std::string&>()).second) {
          found_duplicate = true;
          duplicate = parsed.get_ref<const std::string&>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json value = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is not well-formed JSON"));
  }
  if (found_duplicate) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " has the key ",
                                                   ShortDump(json(duplicate)), " more than once"));
  }
  return value;
}

std::string ShortDump(const json& v) {
  std::string s = v.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  constexpr size_t kMax = 40;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

}  // namespace mot::loaders_internal
