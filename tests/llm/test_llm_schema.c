/*
** Unit tests of JSON schema -> GBNF (src/ai/llm_schema.c): the exact
** grammar text for each supported construct, and the exact error for
** every unsupported keyword and malformed schema.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ai/llm.h"

/* The rules every grammar ends with. */
#define BASE                                                                 \
  "value ::= object | array | string | number | boolean | null\n"            \
  "object ::= \"{\" ws ( string \":\" ws value ( \",\" ws string \":\" ws "  \
  "value )* )? \"}\" ws\n"                                                   \
  "array ::= \"[\" ws ( value ( \",\" ws value )* )? \"]\" ws\n"             \
  "string ::= \"\\\"\" char* \"\\\"\" ws\n"                                  \
  "char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | "        \
  "\"u\" [0-9a-fA-F]{4} )\n"                                                 \
  "number ::= \"-\"? int ( \".\" [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,3} )? " \
  "ws\n"                                                                     \
  "integer ::= \"-\"? int ws\n"                                              \
  "int ::= [0-9] | [1-9] [0-9]{1,15}\n"                                      \
  "boolean ::= ( \"true\" | \"false\" ) ws\n"                                \
  "null ::= \"null\" ws\n"                                                   \
  "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"

static void grammar_is(const char *schema, const char *want) {
  wg_buf b;
  wg_error e;
  wg_error_clear(&e);
  wg_buf_init(&b, 1 << 20);
  wg_err rc = ai_llm_schema_to_gbnf(schema, schema ? strlen(schema) : 0, &b,
                                    &e);
  if (rc) fprintf(stderr, "error: %s\n", e.message);
  assert_int_equal(rc, WG_OK);
  assert_string_equal((const char *)b.data, want);
  wg_buf_free(&b);
}

static void error_is(const char *schema, wg_err code, const char *want) {
  wg_buf b;
  wg_error e;
  wg_error_clear(&e);
  wg_buf_init(&b, 1 << 20);
  assert_int_equal(ai_llm_schema_to_gbnf(schema, strlen(schema), &b, &e),
                   code);
  assert_string_equal(e.message, want);
  assert_int_equal(b.len, 0);
  wg_buf_free(&b);
}

static void test_any_object(void **state) {
  grammar_is(NULL, "root ::= object\n" BASE);
  grammar_is("{}", "root ::= value\n" BASE);
  grammar_is("true", "root ::= value\n" BASE);
  grammar_is("{\"description\":\"anything\",\"title\":\"t\"}",
             "root ::= value\n" BASE);
}

static void test_scalars(void **state) {
  grammar_is("{\"type\":\"string\"}", "root ::= string\n" BASE);
  grammar_is("{\"type\":\"integer\"}", "root ::= integer\n" BASE);
  grammar_is("{\"type\":\"number\"}", "root ::= number\n" BASE);
  grammar_is("{\"type\":\"boolean\"}", "root ::= boolean\n" BASE);
  grammar_is("{\"type\":\"null\"}", "root ::= null\n" BASE);
  grammar_is("{\"type\":[\"string\",\"null\"]}",
             "root ::= ( string | null )\n" BASE);
  grammar_is("{\"type\":\"string\",\"minLength\":2,\"maxLength\":5}",
             "root ::= \"\\\"\" char{2,5} \"\\\"\" ws\n" BASE);
  grammar_is("{\"type\":\"string\",\"minLength\":1}",
             "root ::= \"\\\"\" char{1,} \"\\\"\" ws\n" BASE);
}

static void test_enum_const(void **state) {
  grammar_is("{\"enum\":[\"a\\\"b\",1,null,true]}",
             "root ::= ( \"\\\"a\\\\\\\"b\\\"\" ws | \"1\" ws | \"null\" ws "
             "| \"true\" ws )\n" BASE);
  grammar_is("{\"const\":{\"k\":[1,2]}}",
             "root ::= \"{\\\"k\\\":[1,2]}\" ws\n" BASE);
}

static void test_object(void **state) {
  /* all required, in order */
  grammar_is("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
             "\"integer\"},\"b\":{\"type\":\"boolean\"}},\"required\":[\"a\","
             "\"b\"],\"additionalProperties\":false}",
             "root ::= \"{\" ws \"\\\"a\\\"\" ws \":\" ws root-a \",\" ws "
             "\"\\\"b\\\"\" ws \":\" ws root-b \"}\" ws\n"
             "root-a ::= integer\n"
             "root-b ::= boolean\n" BASE);
  /* an optional property before the first required one */
  grammar_is("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
             "\"null\"},\"y\":{\"type\":\"null\"}},\"required\":[\"y\"]}",
             "root ::= \"{\" ws ( \"\\\"x\\\"\" ws \":\" ws root-x \",\" ws "
             "\"\\\"y\\\"\" ws \":\" ws root-y | \"\\\"y\\\"\" ws \":\" ws "
             "root-y ) \"}\" ws\n"
             "root-x ::= null\n"
             "root-y ::= null\n" BASE);
  /* nothing required: may be empty */
  grammar_is("{\"type\":\"object\",\"properties\":{\"p\":{},\"q\":{}}}",
             "root ::= \"{\" ws ( \"\\\"p\\\"\" ws \":\" ws root-p ( \",\" ws "
             "\"\\\"q\\\"\" ws \":\" ws root-q )? | \"\\\"q\\\"\" ws \":\" ws "
             "root-q )? \"}\" ws\n"
             "root-p ::= value\n"
             "root-q ::= value\n" BASE);
  grammar_is("{\"type\":\"object\"}", "root ::= \"{\" ws \"}\" ws\n" BASE);
  /* rule names from property names; a taken name gets a number */
  grammar_is("{\"type\":\"object\",\"properties\":{\"a b\":{\"type\":"
             "\"null\"},\"a-b\":{\"type\":\"null\"}},\"required\":[\"a b\","
             "\"a-b\"]}",
             "root ::= \"{\" ws \"\\\"a b\\\"\" ws \":\" ws root-a-b \",\" ws "
             "\"\\\"a-b\\\"\" ws \":\" ws root-a-b2 \"}\" ws\n"
             "root-a-b ::= null\n"
             "root-a-b2 ::= null\n" BASE);
}

static void test_array_anyof(void **state) {
  grammar_is("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
             "root ::= \"[\" ws ( root-item ( \",\" ws root-item )* )? \"]\" "
             "ws\nroot-item ::= integer\n" BASE);
  grammar_is("{\"type\":\"array\",\"items\":{\"type\":\"null\"},"
             "\"minItems\":1,\"maxItems\":3}",
             "root ::= \"[\" ws root-item ( \",\" ws root-item ){0,2} \"]\" "
             "ws\nroot-item ::= null\n" BASE);
  grammar_is("{\"type\":\"array\",\"maxItems\":0}",
             "root ::= \"[\" ws \"]\" ws\n" BASE);
  grammar_is("{\"type\":\"array\"}",
             "root ::= \"[\" ws ( value ( \",\" ws value )* )? \"]\" ws\n"
             BASE);
  grammar_is("{\"anyOf\":[{\"type\":\"string\"},{\"const\":1}]}",
             "root ::= ( root-0 | root-1 )\nroot-0 ::= string\n"
             "root-1 ::= \"1\" ws\n" BASE);
}

static void test_unsupported_keywords(void **state) {
  static const char *const kws[] = {
      "$ref", "$defs", "oneOf", "allOf", "not", "pattern", "format",
      "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
      "multipleOf", "prefixItems", "patternProperties", "if", "then",
      "else", "dependentRequired", "uniqueItems", "contains"};
  for (size_t i = 0; i < sizeof kws / sizeof *kws; i++) {
    char schema[128], want[160];
    snprintf(schema, sizeof schema,
             "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\""
             ",\"%s\":1}}}", kws[i]);
    /* the keyword is checked where it is, whatever the type allows */
    snprintf(want, sizeof want,
             "schema: unsupported keyword \"%s\" at /properties/a", kws[i]);
    error_is(schema, WG_EINVAL, want);
  }
  error_is("{\"type\":\"integer\",\"minimum\":0}", WG_EINVAL,
           "schema: unsupported keyword \"minimum\" at /");
  error_is("{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":"
           "\"date\"}}", WG_EINVAL,
           "schema: unsupported keyword \"format\" at /items");
  error_is("{\"oneOf\":[{}]}", WG_EINVAL,
           "schema: unsupported keyword \"oneOf\" at /");
  error_is("{\"type\":\"object\",\"additionalProperties\":true}", WG_EINVAL,
           "schema: unsupported keyword \"additionalProperties\" (only "
           "false) at /");
  error_is("{\"type\":\"string\",\"items\":{}}", WG_EINVAL,
           "schema: unsupported keyword \"items\" at /");
  error_is("{\"anyOf\":[{\"type\":\"null\"},{\"pattern\":\"x\"}]}", WG_EINVAL,
           "schema: unsupported keyword \"pattern\" at /anyOf/1");
}

static void test_malformed(void **state) {
  error_is("{not json", WG_EINVAL,
           "schema: not JSON: string or '}' expected near 'not'");
  error_is("3", WG_EINVAL, "schema: expected an object at /");
  error_is("{\"type\":\"text\"}", WG_EINVAL,
           "schema: unknown type \"text\" at /");
  error_is("{\"type\":3}", WG_EINVAL,
           "schema: \"type\" at / must be a string or a non-empty array");
  error_is("{\"type\":[]}", WG_EINVAL,
           "schema: \"type\" at / must be a string or a non-empty array");
  error_is("{\"enum\":[]}", WG_EINVAL,
           "schema: \"enum\" at / must be a non-empty array");
  error_is("{\"anyOf\":{}}", WG_EINVAL,
           "schema: \"anyOf\" at / must be a non-empty array");
  error_is("{\"type\":\"object\",\"properties\":{},\"required\":[\"z\"]}",
           WG_EINVAL,
           "schema: \"required\" at / names z, which is not in "
           "\"properties\"");
  error_is("{\"type\":\"object\",\"properties\":[]}", WG_EINVAL,
           "schema: \"properties\" at / must be an object");
  error_is("{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", WG_EINVAL,
           "schema: minItems > maxItems at /");
  error_is("{\"type\":\"string\",\"maxLength\":-1}", WG_EINVAL,
           "schema: \"maxLength\" at / must be an integer 0..1000");
  /* 40 nested arrays: deeper than 32 */
  char deep[1024], where[512];
  size_t n = 0, w = 0;
  for (int i = 0; i < 40; i++)
    n += (size_t)snprintf(deep + n, sizeof deep - n,
                          "{\"type\":\"array\",\"items\":");
  n += (size_t)snprintf(deep + n, sizeof deep - n, "{}");
  for (int i = 0; i < 40; i++)
    n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
  for (int i = 0; i < 33; i++)
    w += (size_t)snprintf(where + w, sizeof where - w, "/items");
  char want[600];
  snprintf(want, sizeof want, "schema: nested deeper than 32 at %s", where);
  error_is(deep, WG_ELIMIT, want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_any_object),
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_enum_const),
      cmocka_unit_test(test_object),
      cmocka_unit_test(test_array_anyof),
      cmocka_unit_test(test_unsupported_keywords),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
