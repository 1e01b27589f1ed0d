#include "fakek8s/selector.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

bool IsValueChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// Label values: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends.
bool IsValidValue(absl::string_view v) {
  if (v.empty()) return true;
  if (v.size() > 63) return false;
  if (!std::all_of(v.begin(), v.end(), IsValueChar)) return false;
  return absl::ascii_isalnum(static_cast<unsigned char>(v.front())) &&
         absl::ascii_isalnum(static_cast<unsigned char>(v.back()));
}

// Label keys: an optional DNS-subdomain prefix and '/', then a name like a value.
bool IsValidKey(absl::string_view k) {
  std::vector<absl::string_view> parts = absl::StrSplit(k, '/');
  if (parts.size() > 2) return false;
  absl::string_view name = parts.back();
  if (name.empty() || !IsValidValue(name)) return false;
  if (parts.size() == 2) {
    absl::string_view prefix = parts[0];
    if (prefix.empty() || prefix.size() > 253) return false;
    for (char c : prefix) {
      if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
        return false;
      }
    }
  }
  return true;
}

absl::Status ParseError(absl::string_view term, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("unable to parse requirement: found '", term, "', ", why));
}

// Splits on commas that are not inside parentheses.
absl::StatusOr<std::vector<std::string>> SplitTerms(absl::string_view text) {
  std::vector<std::string> terms;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth < 0) return ParseError(text, "unbalanced parentheses");
    if (c == ',' && depth == 0) {
      terms.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (depth != 0) return ParseError(text, "unbalanced parentheses");
  terms.push_back(std::move(current));
  return terms;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  LabelSelector selector;
  if (absl::StripAsciiWhitespace(text).empty()) return selector;
  absl::StatusOr<std::vector<std::string>> terms = SplitTerms(text);
  if (!terms.ok()) return terms.status();
  for (const std::string& raw : *terms) {
    absl::string_view term = absl::StripAsciiWhitespace(raw);
    if (term.empty()) return ParseError(text, "expected a requirement");
    Requirement req;
    std::string key;
    // Set-based: "key in (a,b)" / "key notin (a,b)".
    size_t paren = term.find('(');
    if (paren != absl::string_view::npos) {
      if (term.back() != ')') return ParseError(term, "expected ')'");
      std::vector<absl::string_view> words =
          absl::StrSplit(term.substr(0, paren), ' ', absl::SkipWhitespace());
      if (words.size() != 2 || (words[1] != "in" && words[1] != "notin")) {
        return ParseError(term, "expected 'key in (...)' or 'key notin (...)'");
      }
      req.key = std::string(words[0]);
      req.op = words[1] == "in" ? Op::kIn : Op::kNotIn;
      absl::string_view inner = term.substr(paren + 1, term.size() - paren - 2);
      if (absl::StripAsciiWhitespace(inner).empty()) {
        return ParseError(term, "for 'in', 'notin' operators, values set can't be empty");
      }
      for (absl::string_view v : absl::StrSplit(inner, ',')) {
        req.values.emplace_back(absl::StripAsciiWhitespace(v));
      }
    } else if (size_t pos = term.find("!="); pos != absl::string_view::npos) {
      req.key = std::string(absl::StripAsciiWhitespace(term.substr(0, pos)));
      req.op = Op::kNotEquals;
      req.values.emplace_back(absl::StripAsciiWhitespace(term.substr(pos + 2)));
    } else if (size_t pos = term.find('='); pos != absl::string_view::npos) {
      size_t skip = absl::StartsWith(term.substr(pos), "==") ? 2 : 1;
      req.key = std::string(absl::StripAsciiWhitespace(term.substr(0, pos)));
      req.op = Op::kEquals;
      req.values.emplace_back(absl::StripAsciiWhitespace(term.substr(pos + skip)));
    } else if (absl::ConsumePrefix(&term, "!")) {
      req.key = std::string(absl::StripAsciiWhitespace(term));
      req.op = Op::kDoesNotExist;
    } else {
      req.key = std::string(term);
      req.op = Op::kExists;
    }
    if (!IsValidKey(req.key)) {
      return ParseError(term, absl::StrCat("invalid label key \"", req.key, "\""));
    }
    for (const std::string& v : req.values) {
      if (!IsValidValue(v)) {
        return ParseError(term, absl::StrCat("invalid label value \"", v, "\""));
      }
    }
    selector.requirements_.push_back(std::move(req));
  }
  return selector;
}

LabelSelector LabelSelector::FromMap(const json& map) {
  LabelSelector selector;
  if (!map.is_object()) return selector;
  for (const auto& [key, value] : map.items()) {
    selector.requirements_.push_back(
        {key, Op::kEquals, {value.is_string() ? value.get<std::string>() : ""}});
  }
  return selector;
}

bool LabelSelector::Matches(const json& labels) const {
  for (const Requirement& req : requirements_) {
    const json* value = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(req.key);
      if (it != labels.end() && it->is_string()) value = &*it;
    }
    auto in_values = [&] {
      return value != nullptr && std::find(req.values.begin(), req.values.end(),
                                           value->get<std::string>()) != req.values.end();
    };
    switch (req.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values()) return false;
        break;
      case Op::kExists:
        if (value == nullptr) return false;
        break;
      case Op::kDoesNotExist:
        if (value != nullptr) return false;
        break;
    }
  }
  return true;
}

absl::StatusOr<FieldSelector> FieldSelector::Parse(absl::string_view text,
                                                   const std::vector<std::string>& supported) {
  FieldSelector selector;
  if (absl::StripAsciiWhitespace(text).empty()) return selector;
  for (absl::string_view term : absl::StrSplit(text, ',')) {
    term = absl::StripAsciiWhitespace(term);
    Requirement req;
    size_t pos;
    size_t skip;
    if ((pos = term.find("!=")) != absl::string_view::npos) {
      req.equals = false;
      skip = 2;
    } else if ((pos = term.find("==")) != absl::string_view::npos) {
      req.equals = true;
      skip = 2;
    } else if ((pos = term.find('=')) != absl::string_view::npos) {
      req.equals = true;
      skip = 1;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid selector: '", text, "'; can't understand '", term, "'"));
    }
    req.path = std::string(absl::StripAsciiWhitespace(term.substr(0, pos)));
    req.value = std::string(absl::StripAsciiWhitespace(term.substr(pos + skip)));
    if (std::find(supported.begin(), supported.end(), req.path) == supported.end()) {
      return absl::InvalidArgumentError(absl::StrCat("field label not supported: ", req.path));
    }
    selector.requirements_.push_back(std::move(req));
  }
  return selector;
}

bool FieldSelector::Matches(const json& object) const {
  for (const Requirement& req : requirements_) {
    const json* node = &object;
    for (absl::string_view part : absl::StrSplit(req.path, '.')) {
      if (!node->is_object()) {
        node = nullptr;
        break;
      }
      auto it = node->find(std::string(part));
      if (it == node->end()) {
        node = nullptr;
        break;
      }
      node = &*it;
    }
    std::string actual;
    if (node != nullptr && node->is_string()) actual = node->get<std::string>();
    if ((actual == req.value) != req.equals) return false;
  }
  return true;
}

}  // namespace fakek8s
