#include "testing/step_action.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kubegrpc::testing {
namespace {

absl::Status Bad(const std::string& why) { return absl::InvalidArgumentError("scenario: " + why); }

}  // namespace

absl::StatusOr<StepAction> ParseStepAction(const std::string& action) {
  std::vector<std::string> w = absl::StrSplit(action, ' ', absl::SkipWhitespace());
  if (w.empty()) return Bad("empty step");
  using Verb = StepAction::Verb;
  static const std::map<std::string, std::pair<Verb, size_t>>* const kVerbs =
      new std::map<std::string, std::pair<Verb, size_t>>{{"scale", {Verb::kScale, 3}},
                                                         {"delete", {Verb::kDelete, 2}},
                                                         {"crash", {Verb::kCrash, 3}},
                                                         {"recreate", {Verb::kRecreate, 2}},
                                                         {"ready", {Verb::kReady, 3}},
                                                         {"rollout", {Verb::kRollout, 2}},
                                                         {"outage", {Verb::kOutage, 2}},
                                                         {"compact", {Verb::kCompact, 1}},
                                                         {"drop-watches", {Verb::kDropWatches, 1}},
                                                         {"hang", {Verb::kHang, 3}}};
  auto it = kVerbs->find(w[0]);
  if (it == kVerbs->end()) return Bad(absl::StrCat("unknown action \"", w[0], "\""));
  if (w.size() != it->second.second) {
    return Bad(absl::StrCat("\"", action, "\" needs ", it->second.second - 1, " argument(s)"));
  }
  StepAction out;
  out.verb = it->second.first;
  if (w.size() > 1) out.target = w[1];
  switch (out.verb) {
    case Verb::kScale:
      if (!absl::SimpleAtoi(w[2], &out.replicas) || out.replicas < 0) {
        return Bad("scale needs a replica count");
      }
      break;
    case Verb::kCrash:
      if (!absl::ParseDuration(w[2], &out.duration)) return Bad("crash needs a restart delay");
      break;
    case Verb::kHang:
      if (!absl::ParseDuration(w[2], &out.duration) || out.duration <= absl::ZeroDuration()) {
        return Bad("hang needs a duration");
      }
      break;
    case Verb::kOutage:
      if (!absl::ParseDuration(w[1], &out.duration)) return Bad("outage needs a duration");
      out.target.clear();
      break;
    case Verb::kReady:
      if (w[2] != "true" && w[2] != "false") return Bad("ready needs true or false");
      out.ready = w[2] == "true";
      break;
    default:
      break;
  }
  return out;
}

}  // namespace kubegrpc::testing
