/*
** The executor pool: a fixed number of threads taking jobs from one
** bounded queue. HTTP threads never run guest code; they reserve a queue
** slot (refused when the queue is full: the caller answers 503), suspend
** the connection, then submit.
*/
#ifndef WG_SERVER_POOL_H
#define WG_SERVER_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "wasmgate/error.h"

typedef struct srv_pool srv_pool;
typedef void (*srv_job_fn)(void *arg);

wg_err srv_pool_new(uint32_t threads, uint32_t queue, srv_pool **out);
/* Reserves one queue slot; false when queue jobs are already queued or
** reserved. Every true must be followed by one srv_pool_submit or one
** srv_pool_unreserve. */
bool srv_pool_reserve(srv_pool *p);
void srv_pool_unreserve(srv_pool *p);
/* Queues fn(arg) in a reserved slot (never fails). */
void srv_pool_submit(srv_pool *p, srv_job_fn fn, void *arg);
uint32_t srv_pool_queued(srv_pool *p);   /* waiting, not running */
/* Called by a job, on its pool's thread, when its client has its answer
** (before resuming the connection): the job no longer counts as active,
** though srv_pool_drain still waits for it to return. */
void srv_pool_answered(void);
uint32_t srv_pool_active(srv_pool *p);   /* running, not yet answered */
uint32_t srv_pool_threads(srv_pool *p);
/* Waits until nothing is queued or running, or until deadline_ns
** (CLOCK_MONOTONIC). Returns true when idle. */
bool srv_pool_drain(srv_pool *p, uint64_t deadline_ns);
/* Stops the threads after the queue is empty and frees the pool. Must not
** be called while jobs may still be submitted. */
void srv_pool_free(srv_pool *p);

#endif
