// Certificates made at test time with OpenSSL's API: a certificate authority, and server
// certificates it signs for chosen names and validity periods. EC P-256 keys, SHA-256
// signatures; PEM text out.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace weft_test {

/// A certificate and its private key, as PEM.
struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

/// A CA that signs server certificates.
class TestCa {
 public:
  /// A self-signed CA named `name`, valid from yesterday for 30 days.
  explicit TestCa(const std::string& name)
      : key_(EVP_EC_gen("P-256"), EVP_PKEY_free), cert_(X509_new(), X509_free) {
    if (!key_ || !cert_) throw std::runtime_error("TestCa: out of memory");
    fill(cert_.get(), key_.get(), name, -1, 30);
    X509_set_issuer_name(cert_.get(), X509_get_subject_name(cert_.get()));
    add_ext(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
    sign(cert_.get(), key_.get());
  }

  std::string cert_pem() const { return pem_of(cert_.get()); }

  /// A certificate for `alt_names` ("DNS:localhost,IP:127.0.0.1"), valid from `from_days` to
  /// `to_days` days from now (negative: in the past), for `usage` (extendedKeyUsage:
  /// "serverAuth", or "clientAuth" for a client's).
  CertAndKey issue(const std::string& cn, const std::string& alt_names, long from_days = -1,
                   long to_days = 30, const std::string& usage = "serverAuth") {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    if (!key || !cert) throw std::runtime_error("TestCa::issue: out of memory");
    fill(cert.get(), key.get(), cn, from_days, to_days);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), cert_.get(), NID_ext_key_usage, usage);
    add_ext(cert.get(), cert_.get(), NID_subject_alt_name, alt_names);
    add_ext(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid");
    sign(cert.get(), key_.get());
    return {pem_of(cert.get()), pem_of(key.get())};
  }

 private:
  void fill(X509* x, EVP_PKEY* key, const std::string& cn, long from_days, long to_days) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }

  static void add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr || X509_add_ext(x, ext, -1) != 1) {
      throw std::runtime_error("TestCa: extension " + value);
    }
    X509_EXTENSION_free(ext);
  }

  static void sign(X509* x, EVP_PKEY* key) {
    if (X509_sign(x, key, EVP_sha256()) <= 0) throw std::runtime_error("TestCa: X509_sign");
  }

  template <class Write>
  static std::string pem_with(Write write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!bio || write(bio.get()) != 1) throw std::runtime_error("TestCa: PEM");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
  }
  static std::string pem_of(X509* x) {
    return pem_with([x](BIO* b) { return PEM_write_bio_X509(b, x); });
  }
  static std::string pem_of(EVP_PKEY* k) {
    return pem_with([k](BIO* b) {
      return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    });
  }

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  std::unique_ptr<X509, decltype(&X509_free)> cert_;
  long serial_ = 0;
};

}  // namespace weft_test
