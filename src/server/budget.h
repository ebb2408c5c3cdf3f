/*
** The tenants' daily token budgets (budget.c): quota
** gateway_tokens_per_day, spent by the gateway's chat requests and by
** WASI-NN's computes alike, per UTC day.
**
** The store holds the truth: the counter SRV_BUDGET_COUNTER of the
** tenant and day (counter_add: atomic, shared by servers on one store).
** This server keeps each tenant's view (the store's value at its last
** write) and what it spent since, so that taking tokens costs no store
** write: a flusher thread adds the spend to the store every
** SRV_BUDGET_FLUSH_MS, and a last time at srv_budget_stop. A crash loses
** at most that much spend; servers sharing a store see each other's spend
** within that delay (so together they may overshoot by as much).
*/
#ifndef WG_SERVER_BUDGET_H
#define WG_SERVER_BUDGET_H

#include <stdint.h>

#include "wasmgate/error.h"

struct srv;

#define SRV_BUDGET_DAY_MS 86400000          /* a UTC day */
#define SRV_BUDGET_COUNTER "gw_tokens_day"  /* the store's counter */
#define SRV_BUDGET_FLUSH_MS 50              /* spend written this often */

/* Makes s->budget and starts its flusher; srv_budget_stop writes what is
** pending, stops the thread and frees it (after every user stopped). */
wg_err srv_budget_start(struct srv *s, wg_error *err);
void srv_budget_stop(struct srv *s);

/* The UTC day number of Unix time now_ms. */
int64_t srv_budget_day(int64_t now_ms);

/* The day limit of a quota value: -1 (none) when it does not fit int64. */
int64_t srv_budget_limit(uint64_t tokens_per_day);

/* Takes n >= 0 tokens of tenant's day: WG_OK; WG_ELIMIT when what was
** spent plus n would pass lim (lim < 0: no limit; nothing is taken);
** WG_ENOMEM; or the store's error when the day's value could not be read
** (callers fail closed). */
wg_err srv_budget_take(struct srv *s, const char *tenant, int64_t day,
                       int64_t n, int64_t lim);

/* Adds delta tokens (negative: gives back) to tenant's day, with no limit:
** settles a reservation to what was used. A past day's delta goes
** straight to the store. */
void srv_budget_settle(struct srv *s, const char *tenant, int64_t day,
                       int64_t delta);

/* Writes every pending spend to the store now and refreshes the views. */
void srv_budget_flush(struct srv *s);

#endif
