// File: kubegrpc/internal/html.h
// -----------------------------------------------------------------------------
// HtmlEscape: text made safe for HTML element content and quoted attribute
// values (& < > " '). Shared by the status page (kubegrpc/metrics) and the
// test harness's HTML reports (testing/html_report). Pure.

#ifndef KUBEGRPC_INTERNAL_HTML_H_
#define KUBEGRPC_INTERNAL_HTML_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kubegrpc::internal {

std::string HtmlEscape(absl::string_view text);

}  // namespace kubegrpc::internal

#endif  // KUBEGRPC_INTERNAL_HTML_H_
