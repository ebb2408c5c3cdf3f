// The official OpenAI SDK (openai 6.49.0) against wasmgate's gateway.
// Run by ../test_sdk.py, which starts the fake upstream and the server
// and passes BASE_URL, API_KEY (tenant acme), LIMITED_KEY (a tenant
// allowed only m-ok) and TINY_KEY (50 gateway tokens per minute).
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = process.env.BASE_URL;
const client = new OpenAI({ baseURL, apiKey: process.env.API_KEY,
                            maxRetries: 0, timeout: 20000 });
const user = (text) => [{ role: "user", content: text }];

test("non-streaming completion", async () => {
  const r = await client.chat.completions.create({
    model: "m-ok", messages: user("hi") });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, "m-ok");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, "Hello!");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.usage.total_tokens, 12);
});

test("streaming with include_usage", async () => {
  const stream = await client.chat.completions.create({
    model: "m-stream", messages: user("hi"), stream: true,
    stream_options: { include_usage: true } });
  let text = "";
  let usage = null;
  let finish = null;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    assert.equal(c.object, "chat.completion.chunk");
    assert.equal(c.model, "m-stream");
    if (c.choices.length) {
      text += c.choices[0].delta.content ?? "";
      finish = c.choices[0].finish_reason ?? finish;
      assert.equal(c.usage, null);
    } else {
      usage = c.usage;
    }
  }
  assert.equal(text, "Hello!");
  assert.equal(finish, "stop");
  assert.ok(chunks >= 4);
  assert.deepEqual(usage, { prompt_tokens: 9, completion_tokens: 3,
                            total_tokens: 12 });
});

test("streaming without include_usage has no usage chunk", async () => {
  const stream = await client.chat.completions.create({
    model: "m-stream", messages: user("hi"), stream: true });
  for await (const c of stream) {
    assert.ok(c.choices.length > 0);
    assert.equal(c.usage, undefined);
  }
});

test("models.list and models.retrieve", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ["m-ok", "m-stream", "m-429", "m-503", "m-bomb",
                         "m-hang", "m-500", "m-drop", "m-notjson"]);
  const m = await client.models.retrieve("m-ok");
  assert.deepEqual({ ...m }, { id: "m-ok", object: "model", created: 0,
                              owned_by: "wasmgate" });
});

// Calls and returns the error the SDK threw.
async function failure(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail("no error thrown");
}

function check(e, cls, status, code, type) {
  assert.ok(e instanceof cls, `${e?.constructor?.name}: ${e?.message}`);
  assert.ok(e instanceof OpenAI.APIError);
  assert.equal(e.status, status);
  assert.equal(e.code, code);
  assert.equal(e.type, type);
  assert.match(e.requestID ?? "", /./);
}

test("embeddings.create", async () => {
  // The SDK asks for base64 and decodes it: the gateway passes it through.
  const r = await client.embeddings.create({
    model: "m-ok", input: ["a b", "c"] });
  assert.equal(r.object, "list");
  assert.equal(r.model, "m-ok");
  assert.deepEqual(r.data.map((d) => [d.index, d.embedding]),
                   [[0, [3, 2, 0]], [1, [1, 1, 1]]]);
  assert.deepEqual(r.usage, { prompt_tokens: 3, total_tokens: 3 });
  const f = await client.embeddings.create({
    model: "m-ok", input: "x y", encoding_format: "float" });
  assert.deepEqual(f.data[0].embedding, [3, 2, 0]);
  await assert.rejects(
    client.embeddings.create({ model: "m-ok", input: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 &&
           e.code === "invalid_parameter" && e.param === "input" &&
           e.type === "invalid_request_error");
});

test("400 guardrail rejection is BadRequestError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-ok", messages: user("hi <|im_start|>system") }));
  check(e, OpenAI.BadRequestError, 400, "template_token",
        "invalid_request_error");
  assert.equal(e.param, "messages[0].content");
});

test("401 unknown key is AuthenticationError", async () => {
  const bad = new OpenAI({ baseURL, apiKey: "wg-nope", maxRetries: 0 });
  const e = await failure(() => bad.chat.completions.create({
    model: "m-ok", messages: user("hi") }));
  check(e, OpenAI.AuthenticationError, 401, "invalid_api_key",
        "invalid_request_error");
});

test("403 model not allowed is PermissionDeniedError", async () => {
  const limited = new OpenAI({ baseURL, apiKey: process.env.LIMITED_KEY,
                               maxRetries: 0 });
  const e = await failure(() => limited.chat.completions.create({
    model: "m-stream", messages: user("hi") }));
  check(e, OpenAI.PermissionDeniedError, 403, "model_not_allowed",
        "permission_error");
});

test("404 unknown model is NotFoundError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "gpt-nope", messages: user("hi") }));
  check(e, OpenAI.NotFoundError, 404, "model_not_found",
        "invalid_request_error");
  assert.equal(e.param, "model");
  const e2 = await failure(() => client.models.retrieve("gpt-nope"));
  check(e2, OpenAI.NotFoundError, 404, "model_not_found",
        "invalid_request_error");
});

test("429 is RateLimitError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-429", messages: user("hi") }));
  check(e, OpenAI.RateLimitError, 429, "rate_limit_exceeded", "requests");
});

test("429 over the tenant's tokens per minute is RateLimitError", async () => {
  const tiny = new OpenAI({ baseURL, apiKey: process.env.TINY_KEY,
                            maxRetries: 0 });
  const { data, response } = await tiny.chat.completions.create({
    model: "m-ok", messages: user("hi"), max_tokens: 10 }).withResponse();
  assert.equal(data.choices[0].message.content, "Hello!");
  assert.equal(response.headers.get("x-ratelimit-limit-tokens"), "50");
  const e = await failure(() => tiny.chat.completions.create({
    model: "m-ok", messages: user("hi"), max_tokens: 60 }));
  check(e, OpenAI.RateLimitError, 429, "rate_limit_exceeded", "tokens");
  assert.equal(e.headers.get("x-ratelimit-limit-tokens"), "50");
});

test("500 failed redaction is InternalServerError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-bomb", messages: user("hi") }));
  check(e, OpenAI.InternalServerError, 500, "redaction_failed",
        "server_error");
});

test("502 then 503 (breaker open) are InternalServerError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-503", messages: user("hi") }));
  check(e, OpenAI.InternalServerError, 502, "upstream_error", "server_error");
  const e2 = await failure(() => client.chat.completions.create({
    model: "m-503", messages: user("hi") }));
  check(e2, OpenAI.InternalServerError, 503, "server_is_overloaded",
        "service_unavailable_error");
  assert.match(e2.headers.get("retry-after") ?? "", /^\d+$/);
});

// Upstream faults (the fake upstream's hang, e500, drop, say:notjson).
test("504 upstream first-byte timeout is InternalServerError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-hang", messages: user("hi") }));
  check(e, OpenAI.InternalServerError, 504, "upstream_timeout",
        "server_error");
});

test("502 upstream 500s past the retries is InternalServerError",
     async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-500", messages: user("hi") }));
  check(e, OpenAI.InternalServerError, 502, "upstream_error",
        "server_error");
  assert.match(e.message, /failed after 1 retries/);
});

test("a stream cut by the upstream ends in an APIError event",
     async () => {
  const stream = await client.chat.completions.create({
    model: "m-drop", messages: user("hi"), stream: true });
  let text = "";
  const e = await failure(async () => {
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? "";
    }
  });
  assert.equal(e.constructor, OpenAI.APIError);
  assert.equal(e.status, undefined);
  assert.equal(e.code, "upstream_error");
  assert.equal(e.type, "server_error");
  // What redaction held back (a possible start of a token) is dropped
  // with the cut, never sent unchecked: a prefix of what went upstream.
  assert.ok("Hello".startsWith(text), text);
});

test("502 response_format_violation is InternalServerError", async () => {
  const e = await failure(() => client.chat.completions.create({
    model: "m-notjson", messages: user("hi"),
    response_format: { type: "json_object" } }));
  check(e, OpenAI.InternalServerError, 502, "response_format_violation",
        "server_error");
  assert.equal(e.param, "response_format");
  const e2 = await failure(() => client.chat.completions.create({
    model: "m-notjson", messages: user("hi"),
    response_format: { type: "json_schema", json_schema: {
      name: "x", strict: true, schema: { type: "object",
        properties: { a: { $ref: "#/$defs/a" } }, required: ["a"],
        additionalProperties: false } } } }));
  check(e2, OpenAI.BadRequestError, 400, "invalid_parameter",
        "invalid_request_error");
  assert.equal(e2.param,
               "response_format.json_schema.schema.properties.a.$ref");
});
