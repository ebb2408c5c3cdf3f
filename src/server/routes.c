/*
** The route table (expanded from routes.def) and the matcher.
**
** Matching walks the path segment by segment: a literal segment must be
** equal, a {name} segment captures one non-empty segment. The table is
** small (tens of rows), so a linear scan beats anything cleverer.
*/
#include <string.h>

#include "server/srv.h"

const srv_route srv_routes[] = {
#define SRV_ROUTE(method, pattern, handler, body, auth, flags)              \
  {#method, pattern, handler, SRV_BODY_##body, SRV_AUTH_##auth, (flags)},
#define ASYNC SRV_ASYNC
#define AUDIT SRV_AUDIT
#define EXEC SRV_EXEC
#define SLOW SRV_SLOW
#include "server/routes.def"
#undef ASYNC
#undef AUDIT
#undef EXEC
#undef SLOW
#undef SRV_ROUTE
};

const size_t srv_nroutes = sizeof srv_routes / sizeof srv_routes[0];

/* Matches path against pattern, filling p. */
static bool path_matches(const char *pattern, const char *path,
                         srv_params *p) {
  p->n = 0;
  const char *a = pattern, *b = path;
  for (;;) {
    if (*a != '/' || *b != '/') return *a == 0 && *b == 0;
    a++;
    b++;
    const char *aend = strchr(a, '/');
    const char *bend = strchr(b, '/');
    size_t alen = aend ? (size_t)(aend - a) : strlen(a);
    size_t blen = bend ? (size_t)(bend - b) : strlen(b);
    if (alen >= 3 && a[0] == '{' && a[alen - 2] == '*' && a[alen - 1] == '}') {
      /* {name*}: the rest of the path, one or more segments. */
      blen = strlen(b);
      if (blen == 0 || blen >= SRV_PARAM_MAX || p->n == SRV_MAX_PARAMS ||
          a[alen] != 0) {
        return false;
      }
      p->p[p->n].name = a + 1;
      p->p[p->n].name_len = alen - 3;
      memcpy(p->p[p->n].value, b, blen + 1);
      p->n++;
      return true;
    } else if (alen >= 2 && a[0] == '{' && a[alen - 1] == '}') {
      if (blen == 0 || blen >= SRV_PARAM_MAX || p->n == SRV_MAX_PARAMS) {
        return false;
      }
      p->p[p->n].name = a + 1;
      p->p[p->n].name_len = alen - 2;
      memcpy(p->p[p->n].value, b, blen);
      p->p[p->n].value[blen] = 0;
      p->n++;
    } else if (alen != blen || memcmp(a, b, alen) != 0) {
      return false;
    }
    a += alen;
    b += blen;
  }
}

static void allow_add(char *allow, size_t allowsize, const char *method) {
  size_t n = strlen(allow);
  size_t m = strlen(method);
  if (strstr(allow, method)) return;
  if (n + m + 3 > allowsize) return;
  if (n) {
    memcpy(allow + n, ", ", 2);
    n += 2;
  }
  memcpy(allow + n, method, m + 1);
}

int srv_route_match(const srv_route *table, size_t n, const char *method,
                    const char *path, srv_params *p, size_t *index,
                    char *allow, size_t allowsize) {
  srv_params tmp;
  bool path_seen = false;
  if (allowsize) allow[0] = 0;
  for (size_t i = 0; i < n; i++) {
    if (!path_matches(table[i].pattern, path, &tmp)) continue;
    if (!strcmp(table[i].method, method)) {
      *p = tmp;
      *index = i;
      return SRV_MATCH_OK;
    }
    path_seen = true;
    if (allowsize) allow_add(allow, allowsize, table[i].method);
  }
  return path_seen ? SRV_MATCH_NO_METHOD : SRV_MATCH_NO_PATH;
}

const char *srv_params_get(const srv_params *p, const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < p->n; i++) {
    if (p->p[i].name_len == n && !memcmp(p->p[i].name, name, n)) {
      return p->p[i].value;
    }
  }
  return "";
}
