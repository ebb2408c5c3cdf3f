/*
** multipart/form-data: see multipart.h. The grammar accepted:
**
**   body      := preamble? "--" B CRLF part ( CRLF "--" B CRLF part )*
**                CRLF "--" B "--" epilogue?
**   part      := ( header CRLF )* CRLF data
**
** Every part needs Content-Disposition: form-data; name="..."; header
** names are case-insensitive; data may hold any bytes but the delimiter.
*/
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/multipart.h"

#define MP_HEADER_MAX 1024
#define MP_MAX_HEADERS 8

static bool mp_fail(char *why, size_t whysize, const char *msg) {
  snprintf(why, whysize, "%s", msg);
  return false;
}

/* Reads a parameter value after "name=" at p: a token or a quoted string
** (with \" escapes). Writes at most outsize-1 bytes; false when longer or
** malformed. *end is where it stopped. */
static bool param_value(const char *p, const char *lim, char *out,
                        size_t outsize, const char **end) {
  size_t n = 0;
  if (p < lim && *p == '"') {
    p++;
    while (p < lim && *p != '"') {
      if (*p == '\\' && p + 1 < lim) p++;
      if (n + 1 >= outsize) return false;
      out[n++] = *p++;
    }
    if (p >= lim) return false;
    p++;
  } else {
    while (p < lim && *p != ';' && *p != ' ' && *p != '\t') {
      if (n + 1 >= outsize) return false;
      out[n++] = *p++;
    }
  }
  out[n] = 0;
  *end = p;
  return true;
}

/* Finds parameter name (case-insensitive) in the "; a=b; c=d" list. */
static int find_param(const char *s, const char *lim, const char *name,
                      char *out, size_t outsize) {
  size_t nlen = strlen(name);
  const char *p = s;
  while (p < lim) {
    while (p < lim && (*p == ';' || *p == ' ' || *p == '\t')) p++;
    const char *key = p;
    while (p < lim && *p != '=' && *p != ';') p++;
    if (p >= lim || *p != '=') continue;
    size_t klen = (size_t)(p - key);
    while (klen > 0 && (key[klen - 1] == ' ' || key[klen - 1] == '\t')) klen--;
    p++;
    char tmp[512];
    const char *end;
    if (!param_value(p, lim, tmp, sizeof tmp, &end)) return -1;
    if (klen == nlen && !strncasecmp(key, name, nlen)) {
      if (strlen(tmp) >= outsize) return -1;
      memcpy(out, tmp, strlen(tmp) + 1);
      return 1;
    }
    p = end;
  }
  return 0;
}

bool srv_multipart_boundary(const char *content_type, char *out, char *why,
                            size_t whysize) {
  static const char mt[] = "multipart/form-data";
  if (!content_type || strncasecmp(content_type, mt, sizeof mt - 1) != 0) {
    return mp_fail(why, whysize,
                   "Content-Type must be multipart/form-data");
  }
  const char *p = content_type + sizeof mt - 1;
  const char *lim = p + strlen(p);
  int r = find_param(p, lim, "boundary", out, SRV_MP_BOUNDARY_MAX + 1);
  if (r <= 0 || out[0] == 0) {
    return mp_fail(why, whysize, r < 0 ? "the boundary parameter is too "
                                         "long or malformed"
                                       : "the boundary parameter is missing");
  }
  return true;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle,
                           size_t m) {
  return hay && n >= m ? memmem(hay, n, needle, m) : NULL;
}

/* Parses the headers of a part at [p, lim); on success *data is the start
** of its data. */
static bool part_headers(const uint8_t *p, const uint8_t *lim, srv_part *part,
                         const uint8_t **data, char *why, size_t whysize) {
  bool disposition = false;
  for (int count = 0;; count++) {
    const uint8_t *eol = find(p, (size_t)(lim - p), "\r\n", 2);
    if (!eol) return mp_fail(why, whysize, "part headers not terminated");
    if (eol == p) {
      *data = p + 2;
      break;
    }
    if (count == MP_MAX_HEADERS || eol - p > MP_HEADER_MAX) {
      return mp_fail(why, whysize, "too many or too long part headers");
    }
    const char *h = (const char *)p;
    const char *hend = (const char *)eol;
    const char *colon = memchr(h, ':', (size_t)(hend - h));
    if (!colon) return mp_fail(why, whysize, "malformed part header");
    size_t hn = (size_t)(colon - h);
    const char *v = colon + 1;
    while (v < hend && (*v == ' ' || *v == '\t')) v++;
    if (hn == 19 && !strncasecmp(h, "Content-Disposition", 19)) {
      if ((size_t)(hend - v) < 9 || strncasecmp(v, "form-data", 9) != 0) {
        return mp_fail(why, whysize, "Content-Disposition is not form-data");
      }
      int r = find_param(v + 9, hend, "name", part->name, sizeof part->name);
      if (r <= 0 || !part->name[0]) {
        return mp_fail(why, whysize, "a part has no (or a bad) name");
      }
      r = find_param(v + 9, hend, "filename", part->filename,
                     sizeof part->filename);
      if (r < 0) return mp_fail(why, whysize, "bad filename parameter");
      part->has_filename = r > 0;
      disposition = true;
    } else if (hn == 12 && !strncasecmp(h, "Content-Type", 12)) {
      size_t vn = (size_t)(hend - v);
      if (vn >= sizeof part->content_type) {
        return mp_fail(why, whysize, "part Content-Type too long");
      }
      memcpy(part->content_type, v, vn);
      part->content_type[vn] = 0;
    }
    p = eol + 2;
  }
  if (!disposition) {
    return mp_fail(why, whysize, "a part has no Content-Disposition");
  }
  return true;
}

bool srv_multipart_parse(const uint8_t *body, size_t len, const char *boundary,
                         srv_part *parts, size_t maxparts, size_t *nparts,
                         char *why, size_t whysize) {
  char delim[SRV_MP_BOUNDARY_MAX + 5];   /* CRLF "--" boundary */
  size_t blen = strlen(boundary);
  if (blen == 0 || blen > SRV_MP_BOUNDARY_MAX) {
    return mp_fail(why, whysize, "bad boundary");
  }
  snprintf(delim, sizeof delim, "\r\n--%s", boundary);
  size_t dlen = blen + 4;
  const uint8_t *end = body + len;
  const uint8_t *p;
  /* The first delimiter may open the body (no CRLF before it). */
  if (body && len >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2)) {
    p = body + dlen - 2;
  } else {
    p = find(body, len, delim, dlen);
    if (!p) return mp_fail(why, whysize, "no boundary delimiter in the body");
    p += dlen;
  }
  *nparts = 0;
  for (;;) {
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') break;   /* close */
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
      return mp_fail(why, whysize, "boundary delimiter not followed by CRLF");
    }
    p += 2;
    if (*nparts == maxparts) return mp_fail(why, whysize, "too many parts");
    srv_part *part = &parts[*nparts];
    memset(part, 0, sizeof *part);
    const uint8_t *data;
    if (!part_headers(p, end, part, &data, why, whysize)) return false;
    const uint8_t *next = find(data, (size_t)(end - data), delim, dlen);
    if (!next) return mp_fail(why, whysize, "unterminated part (no closing "
                                            "boundary)");
    if (srv_multipart_find(parts, *nparts, part->name)) {
      return mp_fail(why, whysize, "duplicate part name");
    }
    part->data = data;
    part->len = (size_t)(next - data);
    (*nparts)++;
    p = next + dlen;
  }
  if (*nparts == 0) return mp_fail(why, whysize, "no parts");
  return true;
}

const srv_part *srv_multipart_find(const srv_part *parts, size_t n,
                                   const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(parts[i].name, name)) return &parts[i];
  }
  return NULL;
}
