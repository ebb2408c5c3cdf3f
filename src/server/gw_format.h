/*
** The gateway's structured output (gw_format.c): a chat request's
** `response_format` is read and checked when the request comes in, and
** the assistant's final content is checked against it when the answer is
** complete (gateway.c retries once upstream, then answers 502
** response_format_violation).
**
** Kinds: "text" (nothing to check), "json_object" (the content parses as
** a JSON object), "json_schema" (it parses as JSON and satisfies
** json_schema.schema). The schema subset understood is that of the
** policy builtin json.match_schema (one implementation, in
** src/policy/builtins.c): type (a name or a list), enum, const,
** properties, required, additionalProperties (boolean or a schema),
** items (one schema), minItems, maxItems, minLength, maxLength,
** pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, allOf,
** anyOf. A request schema using another keyword that constrains values
** ($ref, oneOf, not, if/then/else, prefixItems, ...) is refused with 400,
** because the gateway could not enforce it; annotations (description,
** title, default, examples, $schema, $comment, format) are allowed and
** ignored. With "strict": true the schema must also follow OpenAI's
** strict-mode rules: every object lists all its properties in required
** and sets additionalProperties to false, and the root is an object.
*/
#ifndef WG_SERVER_GW_FORMAT_H
#define WG_SERVER_GW_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct srv_req;

enum { GW_FORMAT_NONE, GW_FORMAT_JSON_OBJECT, GW_FORMAT_JSON_SCHEMA };

typedef struct srv_gw_format {
  int kind;                   /* GW_FORMAT_* */
  bool strict;                /* json_schema.strict */
  json_t *schema;             /* json_schema.schema (a reference) or NULL */
} srv_gw_format;

/* Reads body's "response_format" into f (zeroed first). false: the
** request was answered 400 invalid_parameter naming the parameter
** (e.g. "response_format.json_schema.schema.properties.age.type"). */
bool srv_gw_format_parse(struct srv_req *r, json_t *body, srv_gw_format *f);
/* Checks the content s (n bytes) against f. true when it conforms;
** otherwise false with a one-line reason in why. */
bool srv_gw_format_check(const srv_gw_format *f, const char *s, size_t n,
                         char *why, size_t whysize);
void srv_gw_format_free(srv_gw_format *f);

#endif
