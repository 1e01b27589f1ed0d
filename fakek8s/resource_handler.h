// File: fakek8s/resource_handler.h
// -----------------------------------------------------------------------------
// The verbs on a resource, once a request has been routed, authenticated and
// authorized: list (label and field selectors, `limit`/`continue` pages,
// resourceVersion and resourceVersionMatch, `<Kind>List`), get, create, update
// (PUT), patch (JSON, merge and strategic merge: patch.h; server-side apply:
// apply.h; also on `/status`) and delete (pods through the PodReaper). Lists
// and gets answer a Table or PartialObjectMetadata when the Accept header asks
// (table.h). Objects are converted between their stored and served versions
// (conversion.h). Watches are WatchServer's. Errors are Status bodies with the
// real codes and reasons.
// Thread-safe (functions).

#ifndef FAKEK8S_RESOURCE_HANDLER_H_
#define FAKEK8S_RESOURCE_HANDLER_H_

#include <string>

#include "fakek8s/object_store.h"
#include "fakek8s/pod_reaper.h"
#include "fakek8s/router.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace fakek8s {

// Serves `verb` (not "watch") on `route`.
void ServeResource(ObjectStore* store, PodReaper* reaper, const std::string& verb,
                   const Route& route, const httplib::Request& req, httplib::Response& res);

}  // namespace fakek8s

#endif  // FAKEK8S_RESOURCE_HANDLER_H_
