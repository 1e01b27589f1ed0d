#include "fakek8s/yaml_json.h"

#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace fakek8s {
namespace {

using json = nlohmann::json;

json ScalarToJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  int64_t i;
  if (absl::SimpleAtoi(text, &i)) return i;
  double d;
  if (text.find_first_of(".eE") != std::string::npos && absl::SimpleAtod(text, &d)) return d;
  return text;
}

json NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = NodeToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(NodeToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    default:
      return nullptr;
  }
}

}  // namespace

absl::StatusOr<json> YamlToJson(const std::string& yaml) {
  try {
    return NodeToJson(YAML::Load(yaml));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
}

absl::StatusOr<std::vector<json>> YamlDocumentsToJson(const std::string& yaml) {
  try {
    std::vector<json> out;
    for (const YAML::Node& doc : YAML::LoadAll(yaml)) {
      out.push_back(doc.IsNull() ? json() : NodeToJson(doc));
    }
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

}  // namespace fakek8s
