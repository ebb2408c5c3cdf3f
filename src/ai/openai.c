/*
** The OpenAI-compatible provider: POST <base_url>/chat/completions (or
** /embeddings) with
** "Authorization: Bearer <key>", the key read from the environment
** variable the deployment names (never from the configuration file).
** OpenAI, Azure-style proxies, vLLM, llama.cpp's server and Ollama's /v1
** all speak it.
*/
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"

static bool openai_url(const ai_deployment *d, const char *endpoint,
                       char *url, size_t urlsize) {
  size_t n = strlen(d->base_url);
  while (n > 0 && d->base_url[n - 1] == '/') n--;
  int w = snprintf(url, urlsize, "%.*s/%s", (int)n, d->base_url, endpoint);
  return w > 0 && (size_t)w < urlsize;
}

static bool openai_headers(const ai_deployment *d, struct curl_slist **h) {
  const char *key = d->api_key_env[0] ? getenv(d->api_key_env) : NULL;
  char auth[1024];
  struct curl_slist *l = *h;
  l = curl_slist_append(l, "Content-Type: application/json");
  if (l) l = curl_slist_append(l, "Accept: application/json, text/event-stream");
  if (l) l = curl_slist_append(l, "Expect:");
  if (l && key && key[0]) {
    if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) >=
        (int)sizeof auth) {
      return false;
    }
    l = curl_slist_append(l, auth);
  }
  if (!l) return false;
  *h = l;
  return true;
}

static const ai_provider openai_provider = {"openai", openai_url,
                                            openai_headers};

static const ai_provider *const providers[] = {&openai_provider,
                                               &ai_local_provider};

const ai_provider *ai_provider_find(const char *name) {
  for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++) {
    if (!strcmp(providers[i]->name, name)) return providers[i];
  }
  return NULL;
}
