// File: fakek8s/reviews.h
// -----------------------------------------------------------------------------
// The review APIs, answered from the rules AccessControl enforces and never
// stored: SelfSubjectAccessReview (`kubectl auth can-i VERB RESOURCE`),
// SelfSubjectRulesReview (`kubectl auth can-i --list`) and SelfSubjectReview
// (`kubectl auth whoami`). Every authenticated user may create them.
// Errors: 400 for a body that is not a JSON object, 422 for an access review
// that names neither or both of resourceAttributes and nonResourceAttributes.
// Thread-safe (functions).

#ifndef FAKEK8S_REVIEWS_H_
#define FAKEK8S_REVIEWS_H_

#include "fakek8s/access_control.h"
#include "fakek8s/router.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace fakek8s {

// Answers a create of the review `route` names, for `who`.
void ServeReview(const AccessControl& access, const Identity& who, const Route& route,
                 const httplib::Request& req, httplib::Response& res);

}  // namespace fakek8s

#endif  // FAKEK8S_REVIEWS_H_
