// File: fakek8s/table.h
// -----------------------------------------------------------------------------
// Server-side printing: the meta.k8s.io Table a client asks for with
// `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what `kubectl get`
// sends), so that kubectl shows READY, STATUS, RESTARTS, IP and NODE for pods,
// TYPE, CLUSTER-IP and PORT(S) for Services, and so on, instead of NAME and AGE.
// The columns are those of the real server's printers for the kinds fakek8s
// serves (those marked priority 1 appear with `-o wide`). Also the
// PartialObjectMetadata(List) form (`as=PartialObjectMetadata`), metadata only.
// Thread-safe (functions).

#ifndef FAKEK8S_TABLE_H_
#define FAKEK8S_TABLE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "fakek8s/resources.h"
#include "nlohmann/json.hpp"

namespace fakek8s {

enum class Rendering { kJson, kTable, kPartialMetadata };

struct RenderAs {
  Rendering rendering = Rendering::kJson;
  std::string version;  // "v1" or "v1beta1" of meta.k8s.io
};

// What the Accept header asks for: the first media type fakek8s can give.
RenderAs ParseAccept(const std::string& accept);

struct TableOptions {
  std::string include_object = "Metadata";  // the includeObject parameter: None, Object
  bool with_columns = true;                 // false for a watch event after the first
  absl::Time now = absl::UnixEpoch();       // for AGE and LAST SEEN
};

// A Table of `objects` (as served) with `list_metadata` (resourceVersion,
// continue, remainingItemCount).
nlohmann::json ToTable(const ResourceInfo& info, const std::vector<nlohmann::json>& objects,
                       const nlohmann::json& list_metadata, const RenderAs& as,
                       const TableOptions& options);

// One object's metadata as a PartialObjectMetadata; a list of them.
nlohmann::json ToPartialMetadata(const nlohmann::json& object, const RenderAs& as);
nlohmann::json ToPartialMetadataList(const std::vector<nlohmann::json>& objects,
                                     const nlohmann::json& list_metadata, const RenderAs& as);

// How kubectl shows an age: 45s, 3m12s, 25m, 5h3m, 3d4h, 120d, 3y.
std::string HumanDuration(absl::Duration d);

}  // namespace fakek8s

#endif  // FAKEK8S_TABLE_H_
