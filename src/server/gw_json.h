/*
** The upstream's complete (non-streamed) chat.completion, rewritten for
** the client in one pass over its text, without a parse tree
** (gw_answer.c): the text is checked to be one valid JSON object, and
** the bytes are copied as they are except for
**   - the top-level "model", whose value becomes the public model name;
**   - each choices[i].message.content string, which the caller replaces
**     (redaction) from its decoded text.
** Along the way the top-level usage.prompt_tokens / completion_tokens
** are read. The JSON accepted is what jansson's json_loadb accepts with no
** flags (strict RFC 8259, UTF-8 only, no U+0000 in strings, integers in
** int64, finite reals, depth at most 2048); a duplicate key counts as it
** does there (the last one), except that every occurrence of a rewritten
** value is rewritten.
*/
#ifndef WG_SERVER_GW_ANSWER_H
#define WG_SERVER_GW_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

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
