/*
** Circuit breaker per deployment, and retry backoff.
**
**   closed     calls go through; failures are counted in a row and in a
**              window; `consecutive` in a row, or failure_pct of at
**              least min_calls within window_ms, open it
**   open       no calls for cooldown_ms, then half-open
**   half-open  one probe call at a time; success closes, failure opens
**              again (for a fresh cooldown)
*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ai/ai.h"

void ai_breaker_init(ai_breaker *b) {
  memset(b, 0, sizeof *b);
  pthread_mutex_init(&b->lock, NULL);
  b->state = AI_BREAKER_CLOSED;
}

void ai_breaker_destroy(ai_breaker *b) { pthread_mutex_destroy(&b->lock); }

/* Open -> half-open once the cooldown is over (lock held). */
static void tick(ai_breaker *b, const ai_breaker_cfg *c, uint64_t now_ms) {
  if (b->state == AI_BREAKER_OPEN && now_ms >= b->opened_ms + c->cooldown_ms) {
    b->state = AI_BREAKER_HALF_OPEN;
    b->probing = false;
  }
}

bool ai_breaker_allow(ai_breaker *b, const ai_breaker_cfg *c, uint64_t now_ms,
                      uint64_t *retry_ms) {
  pthread_mutex_lock(&b->lock);
  tick(b, c, now_ms);
  bool ok = true;
  if (b->state == AI_BREAKER_OPEN) {
    ok = false;
    *retry_ms = b->opened_ms + c->cooldown_ms - now_ms;
  } else if (b->state == AI_BREAKER_HALF_OPEN) {
    if (b->probing) {
      ok = false;
      *retry_ms = 1000;
    } else {
      b->probing = true;
    }
  }
  pthread_mutex_unlock(&b->lock);
  return ok;
}

bool ai_breaker_would_allow(ai_breaker *b, const ai_breaker_cfg *c,
                            uint64_t now_ms) {
  pthread_mutex_lock(&b->lock);
  tick(b, c, now_ms);
  bool ok = b->state == AI_BREAKER_CLOSED ||
            (b->state == AI_BREAKER_HALF_OPEN && !b->probing);
  pthread_mutex_unlock(&b->lock);
  return ok;
}

static void trip(ai_breaker *b, uint64_t now_ms) {
  b->state = AI_BREAKER_OPEN;
  b->opened_ms = now_ms;
  b->probing = false;
  b->consecutive = 0;
  b->window_start_ms = now_ms;
  b->window_calls = b->window_fails = 0;
  atomic_fetch_add(&b->opens, 1);
}

void ai_breaker_record(ai_breaker *b, const ai_breaker_cfg *c, bool ok,
                       uint64_t now_ms) {
  pthread_mutex_lock(&b->lock);
  tick(b, c, now_ms);
  if (b->state == AI_BREAKER_HALF_OPEN) {
    if (ok) {
      b->state = AI_BREAKER_CLOSED;
      b->consecutive = 0;
      b->window_start_ms = now_ms;
      b->window_calls = b->window_fails = 0;
    } else {
      trip(b, now_ms);
    }
    b->probing = false;
    pthread_mutex_unlock(&b->lock);
    return;
  }
  if (b->state == AI_BREAKER_OPEN) {   /* a call that started before */
    pthread_mutex_unlock(&b->lock);
    return;
  }
  if (now_ms - b->window_start_ms >= c->window_ms) {
    b->window_start_ms = now_ms;
    b->window_calls = b->window_fails = 0;
  }
  b->window_calls++;
  if (ok) {
    b->consecutive = 0;
  } else {
    b->consecutive++;
    b->window_fails++;
  }
  if (!ok && ((c->consecutive && b->consecutive >= c->consecutive) ||
              (c->failure_pct && b->window_calls >= c->min_calls &&
               b->window_fails * 100u >= c->failure_pct * b->window_calls))) {
    trip(b, now_ms);
  }
  pthread_mutex_unlock(&b->lock);
}

int ai_breaker_state(ai_breaker *b) {
  pthread_mutex_lock(&b->lock);
  int s = b->state;
  pthread_mutex_unlock(&b->lock);
  return s;
}

uint64_t ai_backoff_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms,
                       uint64_t retry_after_ms, uint64_t rnd) {
  uint64_t ceil = base_ms;
  for (uint32_t i = 0; i < attempt && ceil < cap_ms; i++) ceil *= 2;
  if (ceil > cap_ms) ceil = cap_ms;
  uint64_t d = ceil ? rnd % (ceil + 1) : 0;
  return d < retry_after_ms ? retry_after_ms : d;
}

bool ai_retry_after_parse(const char *v, int64_t now_unix_s, uint64_t *ms) {
  while (*v == ' ') v++;
  if (*v >= '0' && *v <= '9') {
    char *end;
    unsigned long long s = strtoull(v, &end, 10);
    while (*end == ' ') end++;
    if (*end || s > 86400ull * 365) return false;
    *ms = s * 1000;
    return true;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end) return false;
  int64_t t = (int64_t)timegm(&tm);
  *ms = t > now_unix_s ? (uint64_t)(t - now_unix_s) * 1000 : 0;
  return true;
}
