/*
** The router: which deployment of a model takes the next attempt.
**
** Candidates are the model's deployments not yet tried by this call whose
** breaker lets a call through and that are not inside a 429's
** Retry-After. Weighted: a draw proportional to `weight`. Least-busy:
** the fewest calls in flight, ties broken by weight then config order.
*/
#include <stdio.h>
#include <string.h>

#include "ai/ai.h"

bool ai_router_init(ai_router *r, char *msg, size_t msgsize) {
  if (r->ndeps > 64) {
    snprintf(msg, msgsize, "at most 64 deployments");
    return false;
  }
  for (size_t i = 0; i < r->ndeps; i++) {
    ai_deployment *d = &r->deps[i];
    d->prov = ai_provider_find(d->provider);
    if (!d->prov) {
      snprintf(msg, msgsize, "models[%zu]: unknown provider '%s'", i,
               d->provider);
      return false;
    }
    size_t n = 0;
    for (size_t j = 0; j < i; j++) n += !strcmp(r->deps[j].model, d->model);
    snprintf(d->id, sizeof d->id, "%s/%zu", d->model, n);
    ai_breaker_init(&d->breaker);
  }
  return true;
}

void ai_router_destroy(ai_router *r) {
  for (size_t i = 0; i < r->ndeps; i++) {
    if (r->deps[i].prov) ai_breaker_destroy(&r->deps[i].breaker);
  }
}

bool ai_router_has_model(const ai_router *r, const char *model) {
  for (size_t i = 0; i < r->ndeps; i++) {
    if (!strcmp(r->deps[i].model, model)) return true;
  }
  return false;
}

ai_deployment *ai_router_pick(ai_router *r, const char *model,
                              uint64_t tried, uint64_t now_ms, uint64_t rnd,
                              bool *rate_limited, uint64_t *retry_ms) {
  size_t cand[64];
  size_t n = 0;
  uint64_t total = 0;
  bool all_limited = true, any = false;
  uint64_t wait = UINT64_MAX;
  for (size_t i = 0; i < r->ndeps; i++) {
    ai_deployment *d = &r->deps[i];
    if (strcmp(d->model, model) != 0 || (tried >> i & 1)) continue;
    any = true;
    uint64_t until = atomic_load(&d->rate_limited_until_ms);
    if (until > now_ms) {
      if (until - now_ms < wait) wait = until - now_ms;
      continue;
    }
    if (!ai_breaker_would_allow(&d->breaker, &r->breaker, now_ms)) {
      all_limited = false;
      uint64_t w = d->breaker.opened_ms + r->breaker.cooldown_ms;
      w = w > now_ms ? w - now_ms : 1000;
      if (w < wait) wait = w;
      continue;
    }
    cand[n++] = i;
    total += d->weight;
  }
  while (n > 0) {
    size_t k = 0;
    if (r->strategy == AI_ROUTE_LEAST_BUSY) {
      for (size_t j = 1; j < n; j++) {
        ai_deployment *a = &r->deps[cand[j]], *b = &r->deps[cand[k]];
        unsigned ia = atomic_load(&a->inflight), ib = atomic_load(&b->inflight);
        if (ia < ib || (ia == ib && a->weight > b->weight)) k = j;
      }
    } else {
      uint64_t x = total ? rnd % total : 0;
      while (k + 1 < n && x >= r->deps[cand[k]].weight) {
        x -= r->deps[cand[k]].weight;
        k++;
      }
    }
    ai_deployment *d = &r->deps[cand[k]];
    uint64_t rm;
    if (ai_breaker_allow(&d->breaker, &r->breaker, now_ms, &rm)) return d;
    /* Lost the half-open probe to another call: drop it and draw again. */
    total -= d->weight;
    cand[k] = cand[--n];
    all_limited = false;
    if (rm < wait) wait = rm;
  }
  *rate_limited = any && all_limited;
  *retry_ms = wait == UINT64_MAX ? 1000 : wait;
  return NULL;
}
