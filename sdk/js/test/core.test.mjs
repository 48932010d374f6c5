// @securix/core's routes against the real `securix` binary: what a browser may ask
// for and what it is refused.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createSecurixHandler, toNextJsHandler } from "@securix/core";
import { Securix } from "@securix/sdk";

import { freePort, provision, startMockOAuth, startSecurix } from "./support/peers.mjs";

const ORIGIN = "https://app.example";
const APP = "https://app.example/api/securix";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

function post(action, body, headers = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Request(`${APP}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN, ...headers },
    body: text,
  });
}

describe("the app-backend routes", () => {
  let securix, oauth, client, handler;

  before(async () => {
    [securix, oauth] = await Promise.all([startSecurix(), startMockOAuth()]);
    const { apiKey, agentId } = await provision(securix, { oauthBaseUrl: oauth.baseUrl, origin: ORIGIN });
    client = new Securix({ baseUrl: securix.baseUrl, apiKey, agentId });
    handler = createSecurixHandler({
      securix: client,
      resolveEntityId: (request, requested) => (request.headers.get("x-user") === "alice" ? "user_alice" : requested === "anyone" ? null : requested),
    });
  });
  after(() => Promise.all([securix?.stop(), oauth?.stop()]));

  test("init creates a popup session for the entity the app resolves; status and confirm follow", async () => {
    const init = await handler(post("init", { entityId: "ignored", providers: { mock: {} }, sxcChallenge: CHALLENGE }, { "x-user": "alice" }));
    assert.equal(init.status, 201);
    const { sessionId, authUrl, expiresAt } = await init.json();
    assert.ok(authUrl.startsWith(`${securix.baseUrl}/connect/`) && expiresAt);

    const status = await handler(new Request(`${APP}/status?sessionId=${sessionId}&wait=0`));
    assert.deepEqual(await status.json(), { sessionId, status: "pending" });

    const wrong = await handler(post("confirm", { sessionId, sxc: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" }));
    assert.ok([403, 409].includes(wrong.status), String(wrong.status));
    assert.equal(wrong.headers.get("content-type"), "application/problem+json");
  });

  test("status long-polls for at most 25 s, whatever the browser asks", async () => {
    const init = await handler(post("init", { entityId: "u", providers: { mock: {} }, sxcChallenge: CHALLENGE }));
    const { sessionId } = await init.json();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const answer = await handler(new Request(`${APP}/status?sessionId=${sessionId}&wait=600`, { signal: controller.signal }));
    assert.ok(Date.now() - started < 5000, "the browser's abort ends the long-poll");
    assert.ok(answer.status >= 400);
  });

  const refusals = [
    ["bad JSON", () => post("init", "{not json"), 400],
    ["a JSON array", () => post("init", "[]"), 400],
    ["a body over 16 KiB", () => post("init", { entityId: "u", providers: {}, sxcChallenge: CHALLENGE, pad: "x".repeat(17_000) }), 400],
    ["no sxcChallenge", () => post("init", { entityId: "u", providers: { mock: {} } }), 400],
    ["providers as a list", () => post("init", { entityId: "u", providers: ["mock"], sxcChallenge: CHALLENGE }), 400],
    ["an origin that is not the request's", () => post("init", { entityId: "u", providers: {}, sxcChallenge: CHALLENGE, origin: "https://evil.example" }), 400],
    ["an entity the user may not connect", () => post("init", { entityId: "anyone", providers: { mock: {} }, sxcChallenge: CHALLENGE }), 403],
    ["a page origin SecuriX does not allow", () => post("init", { entityId: "u", providers: { mock: {} }, sxcChallenge: CHALLENGE }, { origin: "https://evil.example" }), 403],
    ["an unknown session", () => new Request(`${APP}/status?sessionId=ses_unknown`), 404],
    ["no sessionId", () => new Request(`${APP}/status`), 400],
    ["confirm without sxc", () => post("confirm", { sessionId: "ses_x" }), 400],
    ["an unknown route", () => new Request(`${APP}/tokens`), 404],
    ["the wrong method", () => new Request(`${APP}/init`), 404],
  ];
  for (const [name, request, status] of refusals) {
    test(`refuses ${name} with ${status}`, async () => {
      const answer = await handler(request());
      assert.equal(answer.status, status, await answer.clone().text());
      const body = await answer.text();
      assert.ok(!body.includes(client.apiKey));
    });
  }

  test("an unreachable SecuriX is a 502 that names no secret", async () => {
    const apiKey = client.apiKey;
    const offline = createSecurixHandler({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey, agentId: "web" });
    const answer = await offline(post("init", { entityId: "u", providers: { mock: {} }, sxcChallenge: CHALLENGE }));
    assert.equal(answer.status, 502);
    assert.ok(!(await answer.text()).includes(apiKey));
  });

  test("toNextJsHandler mounts the same handler for GET and POST", async () => {
    const { GET, POST } = toNextJsHandler({ securix: client });
    const created = await POST(post("init", { entityId: "u", providers: { mock: {} }, sxcChallenge: CHALLENGE }));
    assert.equal(created.status, 201);
    const { sessionId } = await created.json();
    assert.equal((await (await GET(new Request(`${APP}/status?sessionId=${sessionId}`))).json()).status, "pending");
  });
});
