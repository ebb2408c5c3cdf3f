/*
** The host side of WASI-NN: the models a process offers by name, opened
** lazily and shared by every execution, and the private directory that
** models loaded from guest bytes pass through.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "nn/nn_int.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s);
  char *d = wg_realloc_(NULL, 0, n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static void free_str(char *s) {
  if (s) wg_free(s, strlen(s) + 1);
}

wg_nn_host *wg_nn_host_new(const wg_nn_backend *b, const wg_nn_host_config *cfg) {
  wg_nn_host *h = wg_new(wg_nn_host);
  if (!h) return NULL;
  h->b = b;
  if (cfg) h->cfg = *cfg;
  if (!h->cfg.max_guest_model_bytes) h->cfg.max_guest_model_bytes = 64u << 20;
  if (!h->cfg.guest_ctx_size) h->cfg.guest_ctx_size = 2048;
  if (!h->cfg.queue_wait_ms) h->cfg.queue_wait_ms = 30000;
  pthread_mutex_init(&h->lock, NULL);
  return h;
}

void wg_nn_host_free(wg_nn_host *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n; i++) {
    wgn_model *m = h->models[i];
    if (m->model) h->b->close(m->model);
    free_str(m->name);
    free_str(m->path);
    wg_free_obj(m);
  }
  if (h->tmpdir[0]) rmdir(h->tmpdir);
  pthread_mutex_destroy(&h->lock);
  wg_free_obj(h);
}

size_t wg_nn_host_count(const wg_nn_host *h) { return h->n; }

wg_err wg_nn_host_add(wg_nn_host *h, const wg_nn_model_cfg *mc, wg_error *err) {
  if (!mc->name || !mc->name[0] || strlen(mc->name) > WG_NN_MAX_NAME)
    return wg_error_set(err, WG_EINVAL, "model name empty or longer than %u bytes",
                        WG_NN_MAX_NAME);
  if (!mc->path || !mc->path[0])
    return wg_error_set(err, WG_EINVAL, "model '%s' has no path", mc->name);
  if (wgn_host_find(h, mc->name, strlen(mc->name)))
    return wg_error_set(err, WG_EEXIST, "model '%s' is given twice", mc->name);
  if (h->n >= WG_NN_MAX_MODELS)
    return wg_error_set(err, WG_ELIMIT, "more than %u models", WG_NN_MAX_MODELS);
  wgn_model *m = wg_new(wgn_model);
  if (!m || !(m->name = dup_str(mc->name)) || !(m->path = dup_str(mc->path))) {
    if (m) {
      free_str(m->name);
      wg_free_obj(m);
    }
    return wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  m->cfg.path = m->path;
  m->cfg.ctx_size = mc->ctx_size;
  m->cfg.threads = mc->threads;
  m->cfg.slots = mc->slots ? mc->slots : 1;
  h->models[h->n++] = m;
  return WG_OK;
}

wgn_model *wgn_host_find(wg_nn_host *h, const char *name, size_t len) {
  for (size_t i = 0; i < h->n; i++)
    if (strlen(h->models[i]->name) == len && !memcmp(h->models[i]->name, name, len))
      return h->models[i];
  return NULL;
}

uint32_t wgn_host_open(wg_nn_host *h, wgn_model *m, void **model) {
  uint32_t r = WG_NN_SUCCESS;
  pthread_mutex_lock(&h->lock);
  if (!m->model) {
    struct stat st;
    wg_error err;
    wg_error_clear(&err);
    if (stat(m->path, &st) != 0 || !S_ISREG(st.st_mode)) {
      r = WG_NN_MODEL_NOT_FOUND;
    } else {
      wg_err e = h->b->open(&m->cfg, &m->model, &err);
      if (e) {
        m->model = NULL;
        r = e == WG_ENOTFOUND ? WG_NN_MODEL_NOT_FOUND : WG_NN_INVALID_ARGUMENT;
        fprintf(stderr, "wasmgate: wasi-nn: model '%s': %s\n", m->name,
                err.message[0] ? err.message : wg_strerror(e));
      }
    }
  }
  *model = m->model;
  pthread_mutex_unlock(&h->lock);
  return r;
}

uint32_t wgn_host_open_bytes(wg_nn_host *h, const uint8_t *data, size_t len,
                             void **model) {
  char path[sizeof h->tmpdir + 32];
  pthread_mutex_lock(&h->lock);
  if (!h->tmpdir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(h->tmpdir, sizeof h->tmpdir, "%s/wasmgate-nn-XXXXXX",
             t && t[0] && strlen(t) < sizeof h->tmpdir - 32 ? t : "/tmp");
    if (!mkdtemp(h->tmpdir)) h->tmpdir[0] = 0;   /* mode 0700 */
  }
  bool ok = h->tmpdir[0] != 0;
  if (ok) snprintf(path, sizeof path, "%s/model-XXXXXX", h->tmpdir);
  pthread_mutex_unlock(&h->lock);
  if (!ok) return WG_NN_RUNTIME_ERROR;
  int fd = mkstemp(path);
  if (fd < 0) return WG_NN_RUNTIME_ERROR;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  close(fd);
  uint32_t r = WG_NN_SUCCESS;
  if (done != len) {
    r = WG_NN_RUNTIME_ERROR;
  } else {
    ai_llm_model_cfg cfg = {.path = path, .ctx_size = h->cfg.guest_ctx_size,
                            .threads = h->cfg.guest_threads, .slots = 1};
    wg_error err;
    wg_error_clear(&err);
    if (h->b->open(&cfg, model, &err)) r = WG_NN_INVALID_ARGUMENT;
  }
  unlink(path);   /* an open model keeps its mapping */
  return r;
}
