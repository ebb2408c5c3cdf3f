/*
** The server's JSON on its hot paths, read in one pass by its own lexer
** (gw_json.c). It takes what jansson's json_loadb takes (strict RFC 8259,
** UTF-8 only, integers in int64, finite reals, depth at most 2048), with
** one exception: a raw NUL byte is refused wherever it is, where jansson
** skips one after a number ("[1\0]" is [1] to it).
**
** srv_json_loadb: json_loadb with a faster lexer (the same tree), for
** request bodies (srv_body_object, the chat request) and streamed chunks;
** srv_json_dump_compact: json_dump's compact text, faster (what
** srv_json_dump uses for JSON_COMPACT | JSON_PRESERVE_ORDER).
**
** srv_gw_answer_rewrite: the upstream's complete (non-streamed)
** chat.completion, rewritten for the client without a parse tree: the
** text is checked to be one valid JSON object (as json_loadb with no
** flags: no U+0000 in strings), and the bytes are copied as they are
** except for
**   - the top-level "model", whose value becomes the public model name;
**   - each choices[i].message.content string, which the caller replaces
**     (redaction) from its decoded text.
** Along the way the top-level usage.prompt_tokens / completion_tokens
** are read. A duplicate key counts as it does in jansson (the last one),
** except that every occurrence of a rewritten value is rewritten.
*/
#ifndef WG_SERVER_GW_JSON_H
#define WG_SERVER_GW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "wasmgate/error.h"

/* json_loadb(in, n, flags, err) for flags made of JSON_REJECT_DUPLICATES
** and JSON_ALLOW_NUL: the same tree, built by this lexer. What it does not
** take (invalid text, a NUL in a key, other flags) goes to json_loadb
** itself, so the verdict and the error text are always jansson's. */
json_t *srv_json_loadb(const char *in, size_t n, size_t flags,
                       json_error_t *err);

/* json_dump_callback(j, ..., JSON_COMPACT | JSON_PRESERVE_ORDER) into
** out (appended), byte for byte, without jansson's per-token callback.
** WG_ENOMEM (out then as it was). */
wg_err srv_json_dump_compact(const json_t *j, wg_buf *out);

/* The lexer's own verdict (no fallback): NULL when it does not take the
** text. For the tests. */
json_t *srv_json_build(const char *in, size_t n, size_t flags);

/* One content string: text[0..n) decoded (valid UTF-8, no U+0000), raw
** the string as it was sent (quotes included). Appends the replacement
** JSON value to out; an error stops the rewrite and is returned by it. */
typedef wg_err (*gw_answer_content_fn)(void *user, size_t choice,
                                       const char *text, size_t n,
                                       const char *raw, size_t rawn,
                                       wg_buf *out);

typedef struct gw_answer_usage {
  bool object;                  /* the (last) "usage" is an object */
  bool has_prompt, has_completion;  /* its (last) values are integers */
  int64_t prompt, completion;
} gw_answer_usage;

/* Rewrites in[0..n) into out (appended). model: the value for "model".
** WG_EINVAL: not a valid JSON object (out is then left as it was); else
** WG_OK, WG_ENOMEM or the callback's error. */
wg_err srv_gw_answer_rewrite(const char *in, size_t n, const char *model,
                             gw_answer_content_fn content, void *user,
                             gw_answer_usage *usage, wg_buf *out);

#endif
