/*
** The life of `wasmgate serve`: configuration, start-up in dependency
** order, the signal loop (SIGHUP reloads, SIGTERM/SIGINT stop), and the
** graceful shutdown:
**
**   1. stop accepting connections; new requests on open connections get
**      503 shutting_down; /readyz answers 503
**   2. let queued and running executions finish, up to
**      executor.shutdown_grace_ms
**   3. let their answers go out, stop the HTTP threads
**   4. sync the audit log and its head file, close the store, exit 0
**
** Signals are blocked in every thread (the mask is set before any thread
** starts) and taken synchronously by the main thread with sigtimedwait,
** which also wakes once a second to sync the audit log.
*/
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/audit.h"
#include "server/budget.h"
#include "server/files.h"
#include "server/gateway.h"
#include "server/hangup.h"
#include "server/metrics.h"
#include "server/modcache.h"
#include "server/policy.h"
#include "server/pool.h"
#include "server/server.h"
#include "server/srv.h"
#include "server/wasinn.h"
#include "sandbox/workers.h"

void srv_cfg_snapshot(srv *s, wg_config *out) {
  pthread_mutex_lock(&s->cfg_lock);
  *out = s->cfg;
  pthread_mutex_unlock(&s->cfg_lock);
}

/* Defaults, then the file, then the command line. Returns 0, 1 (the
** file is bad) or 2 (the command line is). */
static int build_config(const wg_serve_opts *o, wg_config *c) {
  char msg[512];
  srv_config_defaults(c);
  if (o->config_path && !srv_config_load(c, o->config_path, msg, sizeof msg)) {
    fprintf(stderr, "wasmgate serve: config: %s\n", msg);
    srv_gw_config_free(c->gw);
    srv_nn_config_free(c->nn);
    c->gw = NULL;
    c->nn = NULL;
    return 1;
  }
  if (o->model && !srv_gw_config_local(c, o->model, msg, sizeof msg)) {
    fprintf(stderr, "wasmgate serve: --model: %s\n", msg);
    srv_gw_config_free(c->gw);
    srv_nn_config_free(c->nn);
    c->gw = NULL;
    c->nn = NULL;
    return 2;
  }
  if (o->listen && !srv_config_listen(c, o->listen)) {
    fprintf(stderr, "wasmgate serve: --listen: '%s' is not HOST:PORT\n",
            o->listen);
    return 2;
  }
  if (o->data_dir) {
    if (strlen(o->data_dir) >= sizeof c->data_dir - 32) {
      fprintf(stderr, "wasmgate serve: --data-dir: too long\n");
      return 2;
    }
    snprintf(c->data_dir, sizeof c->data_dir, "%s", o->data_dir);
  }
  srv_config_finish(c);
  return 0;
}

/* mkdir -p, mode 0700 for what it creates. */
static bool make_dirs(const char *path) {
  char tmp[SRV_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return false;
    *p = '/';
  }
  return mkdir(tmp, 0700) == 0 || errno == EEXIST;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                      */

static void srv_teardown(srv *s) {
  srv_gw_stop(s);               /* before the daemon: resumes connections */
  srv_http_stop(s);
  srv_pool_free(s->pool);
  srv_pool_free(s->slow_pool);
  srv_hangup_free(s->hangup);   /* after the executions */
  s->hangup = NULL;
  srv_nn_stop(s);               /* after the executions */
  srv_budget_stop(s);           /* after the gateway and the executions */
  wg_workers_free(s->workers);
  srv_policies_free(s->policies);
  s->policies = NULL;
  srv_audit_close(s->audit);
  srv_modcache_free(s->modcache);
  srv_metrics_free(s->metrics);
  srv_auth_free(s->auth);
  srv_tenants_free(s->tenants);
  wg_db_close(s->db);
  srv_gw_config_free(s->cfg.gw);
  srv_nn_config_free(s->cfg.nn);
  s->cfg.gw = NULL;
  s->cfg.nn = NULL;
  pthread_mutex_destroy(&s->cfg_lock);
}

/* A user or group name, or a number, into *id. */
static bool lookup_id(const char *name, bool group, uint32_t *id,
                      uint32_t *primary_gid) {
  char buf[4096];
  if (*name >= '0' && *name <= '9') {
    char *end;
    errno = 0;
    unsigned long v = strtoul(name, &end, 10);
    if (errno || *end || v >= UINT32_MAX) return false;
    *id = (uint32_t)v;
    if (!group && primary_gid) {
      struct passwd pw, *pp = NULL;
      *primary_gid = getpwuid_r((uid_t)v, &pw, buf, sizeof buf, &pp) == 0 &&
                     pp ? (uint32_t)pw.pw_gid : (uint32_t)v;
    }
    return true;
  }
  if (group) {
    struct group gr, *gp = NULL;
    if (getgrnam_r(name, &gr, buf, sizeof buf, &gp) != 0 || !gp) return false;
    *id = (uint32_t)gr.gr_gid;
    return true;
  }
  struct passwd pw, *pp = NULL;
  if (getpwnam_r(name, &pw, buf, sizeof buf, &pp) != 0 || !pp) return false;
  *id = (uint32_t)pw.pw_uid;
  if (primary_gid) *primary_gid = (uint32_t)pw.pw_gid;
  return true;
}

/* The ids workers switch to (executor.worker_user, USER[:GROUP], names or
** numbers; GROUP defaults to USER's primary group): only a server running
** as root switches, to "nobody" when nothing is configured. A server not
** running as root accepts only its own user there (its workers keep it). */
static wg_err worker_ids(srv *s, wg_error *err) {
  const char *conf = s->cfg.worker_user;
  char user[64], *group;
  snprintf(user, sizeof user, "%s", conf[0] ? conf : "nobody");
  group = strchr(user, ':');
  if (group) *group++ = 0;
  uint32_t uid, gid;
  if (!user[0] || !lookup_id(user, false, &uid, &gid)) {
    return wg_error_set(err, WG_EINVAL, "executor.worker_user: no user '%s'",
                        user);
  }
  if (group && (!group[0] || !lookup_id(group, true, &gid, NULL))) {
    return wg_error_set(err, WG_EINVAL, "executor.worker_user: no group "
                        "'%s'", group);
  }
  if (geteuid() != 0) {
    if (conf[0] && (uid != geteuid() || gid != getegid())) {
      return wg_error_set(err, WG_EINVAL, "executor.worker_user '%s': only "
                          "a server started as root can run its workers as "
                          "another user", conf);
    }
    return WG_OK;   /* workers keep this (unprivileged) user */
  }
  if (uid == 0 || gid == 0) {
    return wg_error_set(err, WG_EINVAL, "executor.worker_user '%s': workers "
                        "must not run as root (uid and gid 0)", conf[0] ? conf
                        : "nobody");
  }
  s->worker_uid = uid;
  s->worker_gid = gid;
  return WG_OK;
}

/* isolation: process - the worker pool (src/sandbox/workers.h). Workers
** chroot into <data_dir>/worker-root, an empty directory, and run as
** worker_ids's user. */
static wg_err start_workers(srv *s, wg_error *err) {
  const wg_config *c = &s->cfg;
  wg_err e = worker_ids(s, err);
  if (e != WG_OK) return e;
  char root[SRV_PATH_MAX + 16];
  snprintf(root, sizeof root, "%s/worker-root", c->data_dir);
  if (mkdir(root, 0555) != 0 && errno != EEXIST) {
    return wg_error_set(err, WG_EIO, "%s: %s", root, strerror(errno));
  }
  wg_workers_config wc = {
      .count = c->workers ? c->workers : c->executor_threads,
      .max_executions = c->worker_max_executions,
      .max_rss_bytes = c->worker_max_rss,
      .address_space_bytes = c->worker_address_space,
      .cpu_seconds = c->worker_cpu_seconds,
      .file_size_bytes = c->worker_file_size,
      .grace_ms = c->worker_grace_ms,
      .empty_dir = root,
      .uid = s->worker_uid,
      .gid = s->worker_gid,
      .standby = true,
  };
  /* Every execution's directory is made beneath it (exec.c) and moved
  ** into the home of the worker that runs it, the one place that worker
  ** can reach: not the directories of runs in the other workers. */
  wc.homes_root = c->scratch_dir;
  const char *hook = getenv("WASMGATE_TEST_WORKER_HOOK");
  wc.test_hook = hook && !strcmp(hook, "1");
  return wg_workers_new(&wc, &s->workers, err);
}

/* The start-up line saying what confines executions. */
static void log_isolation(srv *s) {
  if (!s->workers) {
    fprintf(stderr, "wasmgate: executions run in-process (isolation: "
            "thread)\n");
    return;
  }
  wg_workers_stats st;
  wg_workers_get_stats(s->workers, &st);
  fprintf(stderr, "wasmgate: executions isolated in %u worker processes: "
          "%s\n", (unsigned)st.count, wg_workers_describe(s->workers));
  if (wg_workers_features(s->workers) & WG_WORKER_TEST_HOOK) {
    fprintf(stderr, "wasmgate: WARNING: worker test hook enabled "
            "(WASMGATE_TEST_WORKER_HOOK=1): never in production\n");
  }
}

static wg_err srv_start(srv *s, wg_error *err) {
  wg_err e;
  if (!make_dirs(s->cfg.data_dir)) {
    return wg_error_set(err, WG_EIO, "data directory %s: %s", s->cfg.data_dir,
                        strerror(errno));
  }
  if ((e = wg_db_open_sqlite(s->cfg.data_dir, &s->db, err))) return e;
  if ((e = srv_tenants_new(&s->tenants))) goto oom;
  if ((e = srv_auth_new(s, &s->auth, err))) return e;
  if ((e = srv_audit_open(s->cfg.audit_path, &s->audit, err))) return e;
  if ((e = srv_policies_new(s, &s->policies, err))) return e;
  if ((e = srv_metrics_new(&s->metrics))) goto oom;
  if ((e = srv_modcache_new(s->cfg.module_cache_bytes, &s->modcache))) {
    goto oom;
  }
  if ((e = srv_scratch_init(s->cfg.scratch_dir, err))) return e;
  if (s->cfg.isolation_process && (e = start_workers(s, err))) return e;
  if ((e = srv_pool_new(s->cfg.executor_threads, s->cfg.executor_queue,
                        &s->pool)) ||
      (e = srv_pool_new(1, 64, &s->slow_pool)) ||
      (e = srv_hangup_new(&s->hangup))) {
    goto oom;
  }
  if ((e = srv_budget_start(s, err))) return e;
  if ((e = srv_gw_start(s, err))) return e;
  if ((e = srv_nn_start(s, err))) return e;
  return srv_http_start(s, err);
oom:
  return wg_error_set(err, e, "out of memory");
}

static void reload(srv *s, const wg_serve_opts *o) {
  wg_config c;
  if (build_config(o, &c) != 0) {
    fprintf(stderr, "wasmgate: SIGHUP: config not reloaded\n");
    return;
  }
  /* models: and gateway: need a restart (they are not reloaded). */
  srv_gw_config_free(c.gw);
  srv_nn_config_free(c.nn);
  c.gw = NULL;
  c.nn = NULL;
  pthread_mutex_lock(&s->cfg_lock);
  wg_config *old = &s->cfg;
  bool restart = strcmp(c.listen_host, old->listen_host) ||
                 c.listen_port != old->listen_port ||
                 strcmp(c.data_dir, old->data_dir) ||
                 strcmp(c.audit_path, old->audit_path) ||
                 strcmp(c.scratch_dir, old->scratch_dir) ||
                 c.http_threads != old->http_threads ||
                 c.executor_threads != old->executor_threads ||
                 c.executor_queue != old->executor_queue ||
                 c.isolation_process != old->isolation_process ||
                 c.workers != old->workers ||
                 strcmp(c.worker_user, old->worker_user) ||
                 c.connection_timeout_s != old->connection_timeout_s ||
                 c.max_connections != old->max_connections ||
                 c.max_connections_per_ip != old->max_connections_per_ip ||
                 c.max_header_bytes != old->max_header_bytes;
  /* The rest is read per request: take it over. */
  old->max_json_bytes = c.max_json_bytes;
  old->max_module_bytes = c.max_module_bytes;
  old->max_multipart_bytes = c.max_multipart_bytes;
  old->max_files = c.max_files;
  old->max_file_path = c.max_file_path;
  old->max_files_bytes = c.max_files_bytes;
  old->max_args = c.max_args;
  old->module_cache_bytes = c.module_cache_bytes;
  old->store_output = c.store_output;
  old->auth_cache_ms = c.auth_cache_ms;
  old->shutdown_grace_ms = c.shutdown_grace_ms;
  old->tenant_defaults = c.tenant_defaults;
  pthread_mutex_unlock(&s->cfg_lock);
  srv_tenants_defaults_changed(s);
  srv_modcache_set_cap(s->modcache, c.module_cache_bytes);
  fprintf(stderr, "wasmgate: configuration reloaded%s\n",
          restart ? " (listen, data_dir, audit.path, scratch_dir, threads, "
                    "queue and connection settings need a restart)"
                  : "");
}

/* Steps 1-3 of the shutdown; false when executions outlived the grace. */
static bool drain(srv *s) {
  atomic_store(&s->draining, true);
  srv_http_quiesce(s);
  wg_config c;
  srv_cfg_snapshot(s, &c);
  uint64_t deadline = srv_now_ns() + c.shutdown_grace_ms * 1000000u;
  bool idle = srv_pool_drain(s->pool, deadline);
  idle = srv_pool_drain(s->slow_pool, deadline) && idle;
  while (atomic_load(&s->inflight) > 0 && srv_now_ns() < deadline) {
    usleep(5000);
  }
  if (!idle || atomic_load(&s->inflight) > 0) {
    fprintf(stderr, "wasmgate: %u execution(s) still running after the "
            "%llu ms grace period; exiting without them\n",
            srv_pool_active(s->pool) + srv_pool_queued(s->pool),
            (unsigned long long)c.shutdown_grace_ms);
    return false;
  }
  return true;
}

static void signal_loop(srv *s, const wg_serve_opts *o, sigset_t *set) {
  for (;;) {
    struct timespec tick = {1, 0};
    int sig = sigtimedwait(set, NULL, &tick);
    if (sig == SIGHUP) {
      reload(s, o);
    } else if (sig == SIGTERM || sig == SIGINT) {
      fprintf(stderr, "wasmgate: %s: shutting down\n",
              sig == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      return;
    }
    srv_audit_sync(s->audit);
  }
}

int wg_serve(const wg_serve_opts *o) {
  static srv s;        /* one server per process */
  memset(&s, 0, sizeof s);
  int rc = build_config(o, &s.cfg);
  if (rc) return rc;
  pthread_mutex_init(&s.cfg_lock, NULL);
  /* Executions allocate and free the same large blocks (stacks, buffers)
  ** over and over: keep them in the heap instead of mmap/munmap each time,
  ** whose TLB shootdowns cost all threads dearly. */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  /* Before any thread exists, so that every thread inherits the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  sigdelset(&set, SIGPIPE);
  wg_error err;
  wg_error_clear(&err);
  if (srv_start(&s, &err) != WG_OK) {
    fprintf(stderr, "wasmgate serve: %s\n", err.message);
    srv_teardown(&s);
    return 1;
  }
  fprintf(stderr, "wasmgate: listening on http://%s%s%s:%u (data in %s)\n",
          strchr(s.cfg.listen_host, ':') ? "[" : "", s.cfg.listen_host,
          strchr(s.cfg.listen_host, ':') ? "]" : "",
          (unsigned)srv_http_port(&s), s.cfg.data_dir);
  log_isolation(&s);
  atomic_store(&s.ready, true);
  signal_loop(&s, o, &set);
  atomic_store(&s.ready, false);
  if (!drain(&s)) {
    /* Guest code still runs on executor threads and holds suspended
    ** connections: keep the audit log whole and leave without joining. */
    srv_audit_sync(s.audit);
    fflush(NULL);
    _exit(0);
  }
  srv_teardown(&s);
  fprintf(stderr, "wasmgate: stopped\n");
  return 0;
}

/* ------------------------------------------------------------------ */
/* wasmgate audit verify                                               */

int wg_audit_path(const char *config_path, const char *data_dir, char *buf,
                  size_t bufsize) {
  wg_serve_opts o = {config_path, NULL, data_dir, NULL};
  static wg_config c;   /* large; not reentrant, only the CLI calls it */
  if (build_config(&o, &c) != 0) return 0;
  srv_gw_config_free(c.gw);
  srv_nn_config_free(c.nn);
  c.gw = NULL;
  c.nn = NULL;
  return snprintf(buf, bufsize, "%s", c.audit_path) < (int)bufsize;
}

int wg_audit_verify_file(const char *path, FILE *out) {
  char report[768];
  uint64_t bad = 0;
  int rc = srv_audit_verify(path, report, sizeof report, &bad);
  fprintf(out, "%s: %s\n", path, report);
  return rc;
}
