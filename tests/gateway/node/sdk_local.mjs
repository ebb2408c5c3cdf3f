// The official OpenAI SDK (openai 6.49.0) against the gateway's `local`
// provider (a GGUF model run by llama.cpp in the server). Run by
// tests/llm/test_local_provider.py with BASE_URL, API_KEY and MODEL (the
// tiny random-weight test model, served greedily here).
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL,
                            apiKey: process.env.API_KEY, maxRetries: 0,
                            timeout: 60000 });
const model = process.env.MODEL;
const messages = [{ role: "user", content: "Hello" }];

test("completion and stream agree, with usage", async () => {
  const r = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 12 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, model);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.equal(r.usage.completion_tokens, 12);
  assert.equal(r.usage.total_tokens,
               r.usage.prompt_tokens + r.usage.completion_tokens);
  const stream = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 12, stream: true,
    stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    if (c.choices.length) {
      text += c.choices[0].delta.content ?? "";
      finish = c.choices[0].finish_reason ?? finish;
    }
  }
  assert.equal(text, r.choices[0].message.content);
  assert.equal(finish, "length");
  assert.deepEqual(usage, r.usage);
});

test("json_schema answers parse", async () => {
  const r = await client.chat.completions.create({
    model, messages, temperature: 0.8, seed: 2, max_tokens: 200,
    response_format: { type: "json_schema", json_schema: { name: "t",
      schema: { type: "object", properties: { ok: { type: "boolean" },
        n: { type: "integer" } }, required: ["ok", "n"],
        additionalProperties: false } } } });
  const v = JSON.parse(r.choices[0].message.content);
  assert.equal(typeof v.ok, "boolean");
  assert.ok(Number.isInteger(v.n));
});

test("n > 1 is BadRequestError", async () => {
  const e = await client.chat.completions.create({ model, messages, n: 2 })
    .then(() => null, (err) => err);
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(e.status, 400);
  assert.equal(e.code, "unsupported_parameter");
  assert.equal(e.param, "n");
});
