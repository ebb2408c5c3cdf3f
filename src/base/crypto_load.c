/*
** OpenSSL libcrypto, loaded on first use (dl.h): the functions the server
** and the policy registry call (SHA-256, random bytes, constant-time
** compare, cleansing), defined with OpenSSL's own names and prototypes
** (checked against its headers), each forwarding to libcrypto.so.3.
** `wasmgate run` never maps libcrypto (4.7 MB, 4,000 relocations).
**
** Calling another libcrypto function is a link error: add it to
** CRYPTO_FUNCS and give it a stub below. Each stub behaves as the OpenSSL
** function of its name; when libcrypto cannot be loaded, it fails the way
** OpenSSL reports failure (NULL, 0), CRYPTO_memcmp answers "different"
** (so that an authentication check fails closed) and OPENSSL_cleanse still
** zeroes its buffer.
*/
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

#include "base/dl.h"

#define CRYPTO_FUNCS(X)                                                    \
  X(SHA256) X(EVP_MD_fetch) X(EVP_MD_free) X(EVP_Digest) X(RAND_bytes)    \
  X(CRYPTO_memcmp) X(OPENSSL_cleanse)

WG_DL_STUBS(CRYPTO_FUNCS, "libcrypto.so.3",
            "SHA-256 and random numbers");

/* The real function F, with F's own type. */
#define REAL(f) WG_DL_REAL(f)
#define READY() WG_DL_READY()

unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md) {
  return READY() ? REAL(SHA256)(d, n, md) : NULL;
}

EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *ctx, const char *algorithm,
                     const char *properties) {
  return READY() ? REAL(EVP_MD_fetch)(ctx, algorithm, properties) : NULL;
}

void EVP_MD_free(EVP_MD *md) {
  if (READY()) REAL(EVP_MD_free)(md);
}

int EVP_Digest(const void *data, size_t count, unsigned char *md,
               unsigned int *size, const EVP_MD *type, ENGINE *impl) {
  return READY() ? REAL(EVP_Digest)(data, count, md, size, type, impl) : 0;
}

int RAND_bytes(unsigned char *buf, int num) {
  return READY() ? REAL(RAND_bytes)(buf, num) : 0;
}

int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len) {
  return READY() ? REAL(CRYPTO_memcmp)(in_a, in_b, len) : 1;
}

void OPENSSL_cleanse(void *ptr, size_t len) {
  if (READY()) {
    REAL(OPENSSL_cleanse)(ptr, len);
  } else if (ptr) {
    explicit_bzero(ptr, len);
  }
}
