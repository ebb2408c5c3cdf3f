/*
** libFuzzer target: the multipart/form-data parser of POST /sandbox/exec
** (src/server/multipart.c), which reads bodies from any client. The
** input's first line is the Content-Type, the rest the body. Beyond the
** sanitizers' checks it aborts when a parse that succeeds breaks the
** parser's promises: parts inside the body, names present and unique,
** strings terminated, srv_multipart_find agreeing.
**
**   build-fuzz/tests/fuzz/fuzz_multipart -max_total_time=60 corpus/
*/
#include <stdlib.h>
#include <string.h>

#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t n) {
  return memchr(s, 0, n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
  if (!nl) return 0;
  size_t ctl = (size_t)(nl - data);
  char ctype[257];
  memcpy(ctype, data, ctl);
  ctype[ctl] = 0;
  /* the body in a buffer of its own size, so reads past it are caught */
  size_t len = size - ctl - 1;
  uint8_t *body = malloc(len ? len : 1);
  if (!body) return 0;
  memcpy(body, nl + 1, len);
  char boundary[SRV_MP_BOUNDARY_MAX + 1], why[256];
  if (srv_multipart_boundary(ctype, boundary, why, sizeof why)) {
    size_t bl = strnlen(boundary, sizeof boundary);
    if (bl == 0 || bl > SRV_MP_BOUNDARY_MAX) abort();
    srv_part parts[SRV_MP_MAX_PARTS];
    size_t n = 0;
    if (srv_multipart_parse(body, len, boundary, parts, SRV_MP_MAX_PARTS, &n,
                            why, sizeof why)) {
      if (n > SRV_MP_MAX_PARTS) abort();
      for (size_t i = 0; i < n; i++) {
        const srv_part *p = &parts[i];
        if (!terminated(p->name, sizeof p->name) || !p->name[0] ||
            !terminated(p->filename, sizeof p->filename) ||
            !terminated(p->content_type, sizeof p->content_type)) {
          abort();
        }
        if (p->len && (p->data < body || p->data + p->len > body + len)) {
          abort();
        }
        if (srv_multipart_find(parts, n, p->name) != p) abort();
      }
    } else if (!terminated(why, sizeof why) || !why[0]) {
      abort();
    }
  } else if (!terminated(why, sizeof why) || !why[0]) {
    abort();
  }
  free(body);
  return 0;
}
