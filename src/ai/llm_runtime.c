/*
** Finds and loads llama.cpp at run time (dlopen), once per process.
**
** Nothing of llama.cpp is linked into wasmgate: `wasmgate run`, and
** `serve` without a local model, never map it, so their startup time does
** not pay for 6 MB of C++ libraries (issue 4). The directory holds the
** prebuilt shared objects of @node-llama-cpp/linux-x64 (see tools/setup.sh
** and the README's dependency notes): libllama.v0.5.0.so, libggml*.so and
** one libggml-cpu-<variant>.so per x86 CPU family. Their RUNPATH is
** $ORIGIN, so opening libllama by its full path brings libggml along; the
** CPU backend is a plugin that ggml_backend_load_all_from_path scores
** against this CPU before loading the best variant.
*/
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ai/llm_int.h"

#ifndef WG_LLAMA_LIB_DIR
#define WG_LLAMA_LIB_DIR ""
#endif

ai_llm_api ai_llm__api;

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static bool rt_done;              /* init ran (under rt_lock) */
static wg_error rt_err;           /* its result */
static atomic_bool rt_ready;
static void *rt_handle;
static char rt_dir[1024];         /* the directory libllama came from */
static pthread_once_t info_once = PTHREAD_ONCE_INIT;
static int info_build;            /* LLAMA_BUILD_NUMBER, or 0 */
static char info_commit[64];      /* LLAMA_COMMIT, or ggml_commit() */
static int rt_log_level = GGML_LOG_LEVEL_NONE + 100;   /* nothing */

uint64_t ai_llm__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* llama.cpp logs a lot at load time; print only what was asked for. A
** CONT line continues the previous message and follows its fate. */
static void on_log(enum ggml_log_level level, const char *text, void *ud) {
  static _Thread_local bool last_shown;
  (void)ud;
  bool show = level == GGML_LOG_LEVEL_CONT ? last_shown
                                           : (int)level >= rt_log_level;
  last_shown = show;
  if (show) fputs(text, stderr);
}

static void log_level_from_env(void) {
  const char *v = getenv("WASMGATE_LLAMA_LOG");
  if (!v || !*v) return;
  if (!strcasecmp(v, "debug")) rt_log_level = GGML_LOG_LEVEL_DEBUG;
  else if (!strcasecmp(v, "info")) rt_log_level = GGML_LOG_LEVEL_INFO;
  else if (!strcasecmp(v, "warn")) rt_log_level = GGML_LOG_LEVEL_WARN;
  else if (!strcasecmp(v, "error")) rt_log_level = GGML_LOG_LEVEL_ERROR;
}

static wg_err load(const char *dir, wg_error *err) {
  static const char *const names[] = {"libllama.v0.5.0.so", "libllama.so",
                                      "libllama.so.0"};
  if (!dir || !*dir) dir = getenv("WASMGATE_LLAMA_DIR");
  if (!dir || !*dir) dir = WG_LLAMA_LIB_DIR;
  if (!*dir)
    return wg_error_set(err, WG_ENOTFOUND,
                        "llama.cpp: no library directory (set "
                        "WASMGATE_LLAMA_DIR or run tools/setup.sh)");
  char path[1024];
  char why[512] = "";
  for (size_t i = 0; i < sizeof names / sizeof *names && !rt_handle; i++) {
    if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >=
        (int)sizeof path)
      return wg_error_set(err, WG_EINVAL, "llama.cpp: directory too long");
    rt_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!rt_handle && i == 0) {
      const char *e = dlerror();
      snprintf(why, sizeof why, "%s", e ? e : "?");
    }
  }
  if (!rt_handle)
    return wg_error_set(err, WG_ENOTFOUND,
                        "llama.cpp: cannot load libllama from %s (%s); run "
                        "tools/setup.sh or set WASMGATE_LLAMA_DIR",
                        dir, why);
  snprintf(rt_dir, sizeof rt_dir, "%s", dir);
#define AI_LLM__SYM(name)                                                    \
  *(void **)&ai_llm__api.name = dlsym(rt_handle, #name);                     \
  if (!ai_llm__api.name)                                                     \
    return wg_error_set(err, WG_ENOTFOUND,                                   \
                        "llama.cpp: %s has no symbol %s (not the v0.5.0 "    \
                        "build the headers came from?)", dir, #name);
  AI_LLM_API(AI_LLM__SYM)
  AI_LLM_GGML_API(AI_LLM__SYM)
#undef AI_LLM__SYM
  log_level_from_env();
  LL->llama_log_set(on_log, NULL);
  LL->ggml_backend_load_all_from_path(dir);
  if (LL->ggml_backend_dev_count() == 0)
    return wg_error_set(err, WG_ENOTFOUND,
                        "llama.cpp: no CPU backend found in %s "
                        "(libggml-cpu-*.so)", dir);
  LL->llama_backend_init();
  return WG_OK;
}

/*
** Loads the runtime once. The first call's result (and message) is
** remembered: a process either has llama.cpp or does not.
*/
wg_err ai_llm_runtime_init(const char *dir, wg_error *err) {
  if (atomic_load(&rt_ready)) return WG_OK;
  pthread_mutex_lock(&rt_lock);
  if (!rt_done) {
    wg_error_clear(&rt_err);
    if (load(dir, &rt_err) == WG_OK) atomic_store(&rt_ready, true);
    rt_done = true;
  }
  pthread_mutex_unlock(&rt_lock);
  if (atomic_load(&rt_ready)) return WG_OK;
  return wg_error_set(err, rt_err.code, "%s", rt_err.message);
}

/* Whether ai_llm_runtime_init succeeded. */
bool ai_llm_runtime_ready(void) { return atomic_load(&rt_ready); }

/* llama.cpp's version ("0.5.0-dev"), or "" before init. */
const char *ai_llm_runtime_version(void) {
  return atomic_load(&rt_ready) ? LL->llama_version() : "";
}

/*
** llama.cpp records its build number and commit in its common library
** (build-info: LLAMA_BUILD_NUMBER, LLAMA_COMMIT), which libllama itself
** does not carry; the prebuilt directory ships it as libllama-common.so.
** It is opened once, on first use (it is 6 MB of C++ that nothing else
** needs), read and closed. Without it: build number 0 and ggml's commit
** (the same checkout's).
*/
static void read_build_info(void) {
  snprintf(info_commit, sizeof info_commit, "%s", LL->ggml_commit());
  char path[1100];
  if (snprintf(path, sizeof path, "%s/libllama-common.so", rt_dir) >=
      (int)sizeof path)
    return;
  void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
  if (!h) return;
  const int *bn = dlsym(h, "LLAMA_BUILD_NUMBER");
  const char *const *cm = dlsym(h, "LLAMA_COMMIT");
  if (bn) info_build = *bn;
  if (cm && *cm) snprintf(info_commit, sizeof info_commit, "%s", *cm);
  dlclose(h);
}

/* llama.cpp's build number (0 when unknown, or before init). */
int ai_llm_runtime_build_number(void) {
  if (!atomic_load(&rt_ready)) return 0;
  pthread_once(&info_once, read_build_info);
  return info_build;
}

/* llama.cpp's commit ("" before init). */
const char *ai_llm_runtime_commit(void) {
  if (!atomic_load(&rt_ready)) return "";
  pthread_once(&info_once, read_build_info);
  return info_commit;
}

/* The name of a status, as in the enum ("AI_LLM_EOG" -> "eog"). */
const char *ai_llm_status_name(ai_llm_status s) {
  switch (s) {
  case AI_LLM_OK: return "ok";
  case AI_LLM_EOG: return "eog";
  case AI_LLM_STOP: return "stop";
  case AI_LLM_LENGTH: return "length";
  case AI_LLM_CONTEXT_FULL: return "context_full";
  case AI_LLM_PROMPT_TOO_LONG: return "prompt_too_long";
  case AI_LLM_CANCELLED: return "cancelled";
  case AI_LLM_DECODE_FAILED: return "decode_failed";
  case AI_LLM_NO_INPUT: return "no_input";
  }
  return "unknown";
}
