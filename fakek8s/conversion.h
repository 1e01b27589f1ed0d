// File: fakek8s/conversion.h
// -----------------------------------------------------------------------------
// One stored object, several served versions. Events are stored as core/v1 and
// also served as events.k8s.io/v1 (involvedObject <-> regarding, message <->
// note, source/firstTimestamp/lastTimestamp/count <-> their deprecated*
// forms, reportingComponent <-> reportingController), as the real API server
// converts between the two. For every other resource both directions are the
// identity. Thread-safe (functions).

#ifndef FAKEK8S_CONVERSION_H_
#define FAKEK8S_CONVERSION_H_

#include <string>

#include "fakek8s/resources.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

// A stored object (of info.storage) as `info` serves it.
nlohmann::json ToServed(const ResourceInfo& info, nlohmann::json stored);
// An object `info` serves, as it is stored.
nlohmann::json ToStored(const ResourceInfo& info, nlohmann::json served);
// A fieldSelector on `info`'s fields, rewritten for the stored object's fields.
std::string StoredFieldSelector(const ResourceInfo& info, const std::string& selector);

}  // namespace fakek8s

#endif  // FAKEK8S_CONVERSION_H_
