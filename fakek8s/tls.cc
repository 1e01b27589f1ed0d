#include "fakek8s/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fakek8s {
namespace {

absl::Status OpenSslError(const std::string& what) {
  unsigned long code = ERR_get_error();
  char buf[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("fakek8s TLS: ", what, ": ", buf));
}

std::shared_ptr<EVP_PKEY> NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

absl::StatusOr<std::shared_ptr<X509>> NewCertificate(const std::string& common_name, EVP_PKEY* key,
                                                     X509* issuer, EVP_PKEY* issuer_key, bool is_ca,
                                                     const std::vector<std::string>& hosts,
                                                     int valid_days) {
  std::shared_ptr<X509> cert(X509_new(), X509_free);
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("RAND_bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * valid_days);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fakek8s"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (is_ca) {
    ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && AddExtension(cert.get(), signer, NID_key_usage,
                            "critical,keyCertSign,cRLSign,digitalSignature");
    ok = ok && AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    std::vector<std::string> sans;
    for (const std::string& host : hosts) {
      unsigned char buf[16];
      bool ip =
          inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
      sans.push_back(absl::StrCat(ip ? "IP:" : "DNS:", host));
    }
    ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExtension(cert.get(), signer, NID_key_usage,
                            "critical,digitalSignature,keyEncipherment");
    ok = ok && AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    ok = ok && AddExtension(cert.get(), signer, NID_subject_alt_name, absl::StrJoin(sans, ","));
    ok = ok && AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  }
  if (!ok) return OpenSslError("adding certificate extensions");
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    return OpenSslError("X509_sign");
  }
  return cert;
}

template <typename WriteFn>
std::string ToPem(WriteFn write) {
  BIO* bio = BIO_new(BIO_s_mem());
  std::string out;
  if (bio != nullptr && write(bio) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    out.assign(data, len);
  }
  BIO_free(bio);
  return out;
}

}  // namespace

absl::StatusOr<ServerCertificates> GenerateServerCertificates(const std::vector<std::string>& hosts,
                                                              int valid_days) {
  std::shared_ptr<EVP_PKEY> ca_key = NewKey();
  std::shared_ptr<EVP_PKEY> server_key = NewKey();
  if (!ca_key || !server_key) return OpenSslError("generating EC keys");
  absl::StatusOr<std::shared_ptr<X509>> ca =
      NewCertificate("fakek8s-ca", ca_key.get(), nullptr, nullptr, /*is_ca=*/true, {}, valid_days);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::shared_ptr<X509>> cert =
      NewCertificate("fakek8s-apiserver", server_key.get(), ca->get(), ca_key.get(),
                     /*is_ca=*/false, hosts, valid_days);
  if (!cert.ok()) return cert.status();

  ServerCertificates out;
  out.ca_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, ca->get()); });
  out.cert_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert->get()); });
  out.key_pem = ToPem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (out.ca_pem.empty() || out.cert_pem.empty() || out.key_pem.empty()) {
    return OpenSslError("writing PEM");
  }
  out.cert = *cert;
  out.key = server_key;
  return out;
}

}  // namespace fakek8s
