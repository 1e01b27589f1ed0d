// File: fakek8s/tls.h
// -----------------------------------------------------------------------------
// Certificates for fakek8s's HTTPS endpoint, generated at start-up: a throw-away
// CA and a server certificate it signs for 127.0.0.1, ::1 and localhost, so that
// clients verify the server against the CA exactly as they would a cluster's.
//
// Thread-compatible. Errors are Internal with OpenSSL's reason.

#ifndef FAKEK8S_TLS_H_
#define FAKEK8S_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace fakek8s {

struct ServerCertificates {
  std::string ca_pem;    // what clients trust (kubeconfig certificate-authority)
  std::string cert_pem;  // the server's certificate
  std::string key_pem;   // the server's private key
  // The same certificate and key as OpenSSL objects (owned).
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

// A new CA and a server certificate for `hosts` (IP addresses or DNS names),
// valid from an hour ago for `valid_days` (negative: already expired). It may
// also serve as a client certificate (mTLS tests): its key usage allows both.
absl::StatusOr<ServerCertificates> GenerateServerCertificates(
    const std::vector<std::string>& hosts = {"127.0.0.1", "::1", "localhost"}, int valid_days = 7);

}  // namespace fakek8s

#endif  // FAKEK8S_TLS_H_
