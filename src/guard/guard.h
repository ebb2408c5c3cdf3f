/*
** wg_guard: checks on what goes to a model and redaction of what comes
** out (and, when configured, of what goes in).
**
**   check.c   input checks: characters per message and per request,
**             control characters (rejected or stripped), chat-template
**             control tokens (prompt-injection markers)
**   redact.c  PII redaction with PCRE2 (JIT): e-mail, phone, payment
**             card (Luhn), US SSN, IBAN (mod 97), IPv4, API keys and
**             tokens, plus patterns from the configuration; over whole
**             texts or over a stream of pieces (guard_stream), holding
**             back only what may still become a match (partial matching)
**
** Redaction fails closed: an error (out of memory, a match limit) is
** returned, never the unredacted text.
*/
#ifndef WG_GUARD_GUARD_H
#define WG_GUARD_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

/* ------------------------------------------------------------------ */
/* Input checks (check.c)                                              */

enum { GUARD_CTRL_REJECT, GUARD_CTRL_STRIP };

typedef struct guard_cfg {
  uint32_t max_message_chars;   /* code points per message (0: no limit) */
  uint32_t max_request_chars;   /* code points of all messages */
  /* Embeddings: documents, not turns, and many a request. */
  uint32_t max_input_chars;     /* code points per input text */
  uint32_t max_input_total_chars; /* code points of all input texts */
  int control_chars;            /* GUARD_CTRL_* */
  bool reject_template_tokens;
} guard_cfg;

void guard_cfg_default(guard_cfg *c);

/* A violation: the API error code and a message. */
typedef struct guard_violation {
  const char *code;             /* "message_too_long", ... */
  char message[256];
} guard_violation;

/* What a text is: a chat message's, or an embeddings input (its own
** length limit, code "input_too_long", no template-token check: such a
** token means nothing to an embedding model). */
typedef enum { GUARD_MESSAGE, GUARD_INPUT } guard_text;

/* Checks one text (valid UTF-8, n bytes) of a message or input. Control
** characters (U+0000-U+001F except tab, LF, CR, and U+007F) are removed in
** place when the mode is STRIP (*n shrinks). *chars gets its code points
** (after stripping). Returns false with v filled on a violation. */
bool guard_check_text(const guard_cfg *c, guard_text kind, char *s,
                      size_t *n, uint64_t *chars, guard_violation *v);
/* The first chat-template control token in s (its length in *len), or
** NULL. */
const char *guard_find_template_token(const char *s, size_t n, size_t *len);

/* ------------------------------------------------------------------ */
/* Redaction (redact.c)                                                */

typedef struct guard_redactor guard_redactor;

typedef struct guard_pattern {
  const char *name;             /* the label: [REDACTED:<NAME>] */
  const char *regex;            /* PCRE2 syntax, UTF mode */
} guard_pattern;

/* Compiles the built-in patterns plus extra ones. On failure returns
** WG_EINVAL with the pattern's name and PCRE2's message in msg. The
** redactor is immutable and may be shared between threads. */
wg_err guard_redactor_new(const guard_pattern *extra, size_t nextra,
                          guard_redactor **out, char *msg, size_t msgsize);
void guard_redactor_free(guard_redactor *r);

/* Redacts the whole text s (n bytes of valid UTF-8) into out (appended).
** *hits (may be NULL) is increased by the number of redactions. */
wg_err guard_redact(const guard_redactor *r, const char *s, size_t n,
                    wg_buf *out, uint32_t *hits);

/* Streaming: feed pieces, get the redacted text that can no longer be
** part of a match; flush at the end. */
typedef struct guard_stream {
  const guard_redactor *r;
  void *md;                     /* pcre2_match_data */
  wg_buf pend;                  /* [context][held back] */
  size_t ctx;                   /* bytes of already emitted context */
  uint32_t hits;
  size_t max_held;              /* the most ever held back (tests) */
} guard_stream;

wg_err guard_stream_init(guard_stream *s, const guard_redactor *r);
void guard_stream_free(guard_stream *s);
wg_err guard_stream_feed(guard_stream *s, const char *p, size_t n,
                         wg_buf *out);
wg_err guard_stream_flush(guard_stream *s, wg_buf *out);

/* Validators, exposed for tests. */
bool guard_luhn_ok(const char *s, size_t n);
bool guard_iban_ok(const char *s, size_t n);

#endif
