/*
** Input checks of the gateway: lengths in code points, control
** characters, chat-template control tokens.
*/
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "guard/guard.h"

void guard_cfg_default(guard_cfg *c) {
  c->max_message_chars = 4096;
  c->max_request_chars = 32768;
  c->max_input_chars = 32768;           /* about 8,192 tokens */
  c->max_input_total_chars = 1048576;
  c->control_chars = GUARD_CTRL_REJECT;
  c->reject_template_tokens = true;
}

/* Tokens that chat templates use to delimit turns: text carrying them
** can forge a system or assistant turn on a model served from a raw
** template. Matched case-insensitively. Besides these, any "<|name|>"
** (ChatML-style special token) is caught by the generic rule below. */
static const char *const tokens[] = {   /* each starts with [ or < */
    "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<start_of_turn>",
    "<end_of_turn>",
};

static bool special_at(const char *s, size_t n, size_t i, size_t *len) {
  /* <|name|>: name is 1-40 of [A-Za-z0-9_.-] */
  if (i + 4 > n || s[i] != '<' || s[i + 1] != '|') return false;
  size_t j = i + 2;
  while (j < n && j - i - 2 <= 40 &&
         ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
          (s[j] >= '0' && s[j] <= '9') || s[j] == '_' || s[j] == '.' ||
          s[j] == '-')) {
    j++;
  }
  if (j == i + 2 || j - i - 2 > 40 || j + 1 >= n || s[j] != '|' ||
      s[j + 1] != '>') {
    return false;
  }
  *len = j + 2 - i;
  return true;
}

const char *guard_find_template_token(const char *s, size_t n, size_t *len) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '<' && s[i] != '[') continue;   /* how every token starts */
    if (special_at(s, n, i, len)) return s + i;
    for (size_t k = 0; k < sizeof tokens / sizeof tokens[0]; k++) {
      size_t tl = strlen(tokens[k]);
      if (tl <= n - i && !strncasecmp(s + i, tokens[k], tl)) {
        *len = tl;
        return s + i;
      }
    }
  }
  return NULL;
}

static bool is_ctrl(unsigned char ch) {
  return (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f;
}

bool guard_check_text(const guard_cfg *c, guard_text kind, char *s,
                      size_t *n, uint64_t *chars, guard_violation *v) {
  const char *what = kind == GUARD_INPUT ? "input" : "message";
  size_t w = 0;
  uint64_t cp = 0;
  for (size_t i = 0; i < *n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (is_ctrl(ch)) {
      if (c->control_chars == GUARD_CTRL_REJECT) {
        v->code = "control_characters";
        snprintf(v->message, sizeof v->message,
                 "The %s contains the control character U+%04X, "
                 "which is not allowed.", what, ch);
        return false;
      }
      continue;
    }
    if ((ch & 0xc0) != 0x80) cp++;
    s[w++] = (char)ch;
  }
  *n = w;
  *chars = cp;
  uint32_t lim = kind == GUARD_INPUT ? c->max_input_chars
                                     : c->max_message_chars;
  if (lim && cp > lim) {
    v->code = kind == GUARD_INPUT ? "input_too_long" : "message_too_long";
    snprintf(v->message, sizeof v->message,
             "A%s %s has %llu characters; the limit is %u.",
             kind == GUARD_INPUT ? "n" : "", what, (unsigned long long)cp,
             lim);
    return false;
  }
  if (kind == GUARD_MESSAGE && c->reject_template_tokens) {
    size_t tl = 0;
    const char *t = guard_find_template_token(s, w, &tl);
    if (t) {
      v->code = "template_token";
      snprintf(v->message, sizeof v->message,
               "The message contains the chat-template control token "
               "'%.*s', which is not allowed.", (int)tl, t);
      return false;
    }
  }
  return true;
}
