/*
** Tenant quotas: one table (SRV_QUOTA_MAP in srv.h) gives every quota its
** JSON name, default and meaning; this file turns JSON into quotas and
** back, and implements the token bucket behind requests_per_minute.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/srv.h"

static const struct quota_row {
  const char *name;
  size_t offset;
  uint64_t def;
} quota_rows[] = {
#define SRV__Q(field, def, help) {#field, offsetof(wg_quotas, field), def},
    SRV_QUOTA_MAP(SRV__Q)
#undef SRV__Q
};

#define NQUOTAS (sizeof quota_rows / sizeof quota_rows[0])

/* The largest quota value accepted: JSON integers beyond 2^53 lose
** precision in most clients. */
#define QUOTA_MAX 9007199254740991ull

static uint64_t *quota_field(wg_quotas *q, size_t i) {
  return (uint64_t *)((char *)q + quota_rows[i].offset);
}

void srv_quotas_default(wg_quotas *q) {
  for (size_t i = 0; i < NQUOTAS; i++) *quota_field(q, i) = quota_rows[i].def;
}

bool srv_quotas_apply(wg_quotas *q, json_t *overrides, bool allow_null,
                      char *param, char *msg, size_t msgsize) {
  const char *key;
  json_t *v;
  if (!json_is_object(overrides)) {
    snprintf(param, 64, "quotas");
    snprintf(msg, msgsize, "quotas must be an object");
    return false;
  }
  json_object_foreach(overrides, key, v) {
    size_t i = 0;
    while (i < NQUOTAS && strcmp(quota_rows[i].name, key) != 0) i++;
    snprintf(param, 64, "quotas.%.48s", key);
    if (i == NQUOTAS) {
      snprintf(msg, msgsize, "unknown quota '%.48s'", key);
      return false;
    }
    if (json_is_null(v) && allow_null) continue;
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    if (!json_is_integer(v) || n <= 0 || (uint64_t)n > QUOTA_MAX) {
      snprintf(msg, msgsize, "quotas.%s must be a positive integer",
               quota_rows[i].name);
      return false;
    }
    *quota_field(q, i) = (uint64_t)n;
  }
  return true;
}

json_t *srv_quotas_json(const wg_quotas *q) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < NQUOTAS; i++) {
    uint64_t v = *quota_field((wg_quotas *)q, i);
    json_object_set_new(o, quota_rows[i].name, json_integer((json_int_t)v));
  }
  return o;
}

bool srv_bucket_take(wg_bucket *b, double rate, double burst, uint64_t now_ns,
                     uint64_t *retry_ms) {
  return srv_bucket_take_n(b, rate, burst, 1.0, now_ns, retry_ms);
}

bool srv_bucket_take_n(wg_bucket *b, double rate, double burst, double n,
                       uint64_t now_ns, uint64_t *retry_ms) {
  if (b->last_ns == 0) {
    b->tokens = burst;
  } else if (now_ns > b->last_ns) {
    b->tokens += (double)(now_ns - b->last_ns) * 1e-9 * rate;
    if (b->tokens > burst) b->tokens = burst;
  }
  b->last_ns = now_ns;
  if (n <= burst && b->tokens >= n) {
    b->tokens -= n;
    return true;
  }
  double want = n <= burst ? n : burst;
  double wait_s = rate > 0 ? (want - b->tokens) / rate : 60.0;
  *retry_ms = (uint64_t)ceil(wait_s * 1000.0);
  if (*retry_ms == 0) *retry_ms = 1;
  return false;
}

void srv_bucket_give(wg_bucket *b, double burst, double n) {
  b->tokens += n;
  if (b->tokens > burst) b->tokens = burst;
}
