// @securix/core's routes: what they refuse to be built without, what a browser may ask
// for and what it is refused (against a SecuriX that records every call, so "no session
// was created" is seen), then the same routes against the real `securix` binary.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { SecurixConfigError, createSecurixHandler, toNextJsHandler } from "@securix/core";
import { Securix } from "@securix/sdk";

import { freePort, provision, startMockOAuth, startSecurix } from "./support/peers.mjs";
import { recordingSecurix } from "./support/recording-securix.mjs";

const ORIGIN = "https://app.example";
const APP = "https://app.example/api/securix";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ALLOWED = { github: { scopes: ["repo", "read:user"] }, gmail: { scopes: ["gmail.readonly"], params: { hd: "acme.example" } } };

function post(action, body, headers = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Request(`${APP}/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN, ...headers },
    body: text,
  });
}

function get(action, query, headers = {}) {
  return new Request(`${APP}/${action}?${new URLSearchParams(query)}`, { headers });
}

/** The signed-in user is the `x-user` header: the way a real app reads its own session. */
const fromSession = (request) => {
  const user = request.headers.get("x-user");
  return user ? `user_${user}` : null;
};

const isConfigError = (error) => error instanceof SecurixConfigError && error.code === "SECURIX_CONFIG";

async function problemCode(response) {
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  return (await response.json()).code;
}

describe("createSecurixHandler refuses to be built open", () => {
  const { securix } = recordingSecurix();
  const cases = [
    ["no options at all", undefined],
    ["no resolveEntityId (it used to trust the page's entityId)", { securix, providers: ALLOWED }],
    ["a resolveEntityId that is not a function", { securix, providers: ALLOWED, resolveEntityId: "user_123" }],
    ["no providers allowlist (it used to take the page's)", { securix, resolveEntityId: fromSession }],
    ["an allowlist that allows nothing", { securix, resolveEntityId: fromSession, providers: {} }],
    ["an allowlist that is a list", { securix, resolveEntityId: fromSession, providers: ["github"] }],
    ["an allowlist entry that is not an object", { securix, resolveEntityId: fromSession, providers: { github: true } }],
    ["an empty scopes list", { securix, resolveEntityId: fromSession, providers: { github: { scopes: [] } } }],
    ["scopes that are not strings", { securix, resolveEntityId: fromSession, providers: { github: { scopes: "repo" } } }],
    ["a misspelt setting", { securix, resolveEntityId: fromSession, providers: { github: { scope: ["repo"] } } }],
    ["a short bindingSecret", { securix, resolveEntityId: fromSession, providers: ALLOWED, bindingSecret: "short" }],
  ];
  for (const [name, options] of cases) {
    test(`${name} is SECURIX_CONFIG, from createSecurixHandler and toNextJsHandler`, () => {
      assert.throws(() => createSecurixHandler(options), isConfigError);
      assert.throws(() => toNextJsHandler(options), isConfigError);
    });
  }

  test("an options object made of client settings alone is SECURIX_CONFIG", () => {
    assert.throws(() => toNextJsHandler({ baseUrl: "https://securix.example", apiKey: "sxk_x" }), isConfigError);
  });
});

describe("the routes take nothing from the browser on trust", () => {
  /** A handler over a recording SecuriX; `init(body, user)` answers the parsed answer and status. */
  function app(options = {}, recording = recordingSecurix()) {
    const handler = createSecurixHandler({ securix: recording.securix, resolveEntityId: fromSession, providers: ALLOWED, ...options });
    const init = async (body, user = "alice", headers = {}) => {
      const answer = await handler(post("init", { sxcChallenge: CHALLENGE, ...body }, user ? { "x-user": user, ...headers } : headers));
      return { status: answer.status, body: await answer.json() };
    };
    return { handler, init, seen: recording.seen };
  }

  test("init creates the session for the entity resolveEntityId answers, never the page's entityId", async () => {
    const { init, seen } = app();
    const created = await init({ entityId: "user_victim", providers: { github: {} } }, "alice");
    assert.equal(created.status, 201);
    assert.equal(seen.sessions[0].entityId, "user_alice");
  });

  test("resolveEntityId sees the page's entityId and the route, and its refusal is 403 entity-refused with no session", async () => {
    const asked = [];
    const { handler, seen } = app({
      resolveEntityId: (request, requested, { action }) => {
        asked.push([requested, action]);
        return null;
      },
    });
    const answer = await handler(post("init", { entityId: "org_1", sxcChallenge: CHALLENGE }));
    assert.equal(answer.status, 403);
    assert.equal(await problemCode(answer), "entity-refused");
    assert.deepEqual(asked, [["org_1", "init"]]);
    assert.equal(seen.sessions.length, 0);
  });

  test("providers left out: the session asks for the whole allowlist, params included", async () => {
    const { init, seen } = app();
    assert.equal((await init({})).status, 201);
    assert.deepEqual(seen.sessions[0].providers, ALLOWED);
  });

  test("the page may pick a subset of the integrations and of their scopes", async () => {
    const { init, seen } = app();
    assert.equal((await init({ providers: { github: { scopes: ["repo", "repo"] }, gmail: {} } })).status, 201);
    assert.deepEqual(seen.sessions[0].providers, {
      github: { scopes: ["repo"] },
      gmail: { scopes: ["gmail.readonly"], params: { hd: "acme.example" } },
    });
  });

  const refusals = [
    ["an integration outside the allowlist", { providers: { github: {}, dropbox: {} } }, 403, "integration-not-allowed"],
    ["an inherited property as an integration", { providers: { constructor: {} } }, 403, "integration-not-allowed"],
    ["a __proto__ integration", JSON.parse('{"providers": {"__proto__": {}}}'), 403, "integration-not-allowed"],
    ["a scope outside the allowlist", { providers: { github: { scopes: ["repo", "delete_repo"] } } }, 403, "scope-not-allowed"],
    ["an empty scopes list (SecuriX would use the integration's own)", { providers: { github: { scopes: [] } } }, 400, "bad-request"],
    ["connection params from the page", { providers: { gmail: { params: { hd: "evil.example" } } } }, 400, "bad-request"],
    ["a reconnect from the page", { providers: { github: { reconnect: "con_victim" } } }, 400, "bad-request"],
    ["providers naming nothing", { providers: {} }, 400, "bad-request"],
    ["providers as a list", { providers: ["github"] }, 400, "bad-request"],
  ];
  for (const [name, body, status, code] of refusals) {
    test(`init refuses ${name} with ${status} ${code} and creates no session`, async () => {
      const { init, seen } = app();
      const answer = await init(body);
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.code, code);
      assert.equal(seen.sessions.length, 0);
    });
  }

  test("an allowlist entry without scopes lets the page ask for none", async () => {
    const { init, seen } = app({ providers: { github: {} } });
    assert.equal((await init({ providers: { github: { scopes: ["repo"] } } })).body.code, "scope-not-allowed");
    assert.equal((await init({ providers: { github: {} } })).status, 201);
    assert.deepEqual(seen.sessions.map((s) => s.providers), [{ github: {} }]);
  });

  test("an allowlist function decides per request and entity; a falsy answer allows nothing", async () => {
    const calls = [];
    const { init, seen } = app({
      providers: async (request, entityId) => {
        calls.push(entityId);
        return entityId === "user_alice" ? { github: { scopes: ["repo"] } } : null;
      },
    });
    assert.equal((await init({}, "alice")).status, 201);
    assert.equal((await init({}, "bob")).body.code, "integration-not-allowed");
    assert.equal((await init({ providers: { github: {} } }, "bob")).body.code, "integration-not-allowed");
    assert.deepEqual(calls, ["user_alice", "user_bob", "user_bob"]);
    assert.equal(seen.sessions.length, 1);
  });

  test("a misconfiguration found at request time is a 500 handler-misconfigured that creates no session", async () => {
    for (const options of [{ providers: () => ({ github: { scopes: "repo" } }) }, { resolveEntityId: () => ({ id: 1 }) }]) {
      const { init, seen } = app(options);
      const answer = await init({});
      assert.equal(answer.status, 500);
      assert.equal(answer.body.code, "handler-misconfigured");
      assert.equal(seen.sessions.length, 0);
    }
  });

  test("a cross-site request is refused before anything runs", async () => {
    const { init, seen } = app();
    const answer = await init({}, "alice", { "sec-fetch-site": "cross-site" });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.code, "cross-site");
    assert.equal(seen.sessions.length, 0);
  });

  test("a body that is not application/json (a cross-site form's text/plain) is 415", async () => {
    const { handler, seen } = app();
    const answer = await handler(post("init", { sxcChallenge: CHALLENGE }, { "x-user": "alice", "content-type": "text/plain" }));
    assert.equal(answer.status, 415);
    assert.equal(await problemCode(answer), "unsupported-media-type");
    assert.equal(seen.sessions.length, 0);
  });

  test("a long body without Content-Length is read no further than 16 KiB", async () => {
    const { handler } = app();
    const chunk = new TextEncoder().encode(" ".repeat(1024));
    let pulled = 0;
    const long = new ReadableStream({
      pull(controller) {
        if (pulled >= 1024 * 1024) return controller.close();
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request(`${APP}/init`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-user": "alice" },
      body: long,
      duplex: "half",
    });
    const answer = await handler(request);
    assert.equal(answer.status, 400);
    assert.equal(await problemCode(answer), "body-too-large");
    assert.ok(pulled <= 20 * 1024, `read ${pulled} bytes of a body it refuses`);
  });

  describe("status and confirm act only for the entity the session was started for", () => {
    async function started(handlerApp, user = "alice") {
      const created = await handlerApp.init({}, user);
      assert.equal(created.status, 201);
      return created.body;
    }

    test("the init answer carries a binding; with it, status and confirm reach SecuriX", async () => {
      const a = app();
      const { sessionId, binding } = await started(a);
      assert.match(binding, /^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
      const status = await a.handler(get("status", { sessionId, binding, wait: "0" }, { "x-user": "alice" }));
      assert.deepEqual(await status.json(), { sessionId, status: "pending" });
      const confirmed = await a.handler(post("confirm", { sessionId, binding, sxc: "s".repeat(43) }, { "x-user": "alice" }));
      assert.equal(confirmed.status, 200);
      assert.deepEqual(a.seen.reads, [sessionId]);
      assert.deepEqual(a.seen.confirms.map((c) => c.sessionId), [sessionId]);
    });

    test("another user holding the session id and its binding is refused 403, and SecuriX is never asked", async () => {
      const a = app();
      const { sessionId, binding } = await started(a, "alice");
      const status = await a.handler(get("status", { sessionId, binding }, { "x-user": "mallory" }));
      assert.equal(status.status, 403);
      assert.equal(await problemCode(status), "session-binding-invalid");
      const confirm = await a.handler(post("confirm", { sessionId, binding, sxc: "s".repeat(43) }, { "x-user": "mallory" }));
      assert.equal(confirm.status, 403);
      assert.equal(await problemCode(confirm), "session-binding-invalid");
      assert.deepEqual([a.seen.reads, a.seen.confirms], [[], []]);
    });

    test("a binding moved to another session, tampered with or missing opens nothing", async () => {
      const a = app();
      const first = await started(a);
      const second = await started(a);
      const tampered = first.binding.slice(0, -2) + (first.binding.endsWith("AA") ? "AB" : "AA");
      const later = first.binding.replace(/^v1\.(\d+)\./, (_, exp) => `v1.${Number(exp) + 3600}.`);
      for (const binding of [first.binding, tampered, later, "v1.1.x", "garbage"]) {
        const answer = await a.handler(get("status", { sessionId: second.sessionId, binding }, { "x-user": "alice" }));
        assert.equal(answer.status, 403, binding);
        assert.equal(await problemCode(answer), "session-binding-invalid");
      }
      const missing = await a.handler(post("confirm", { sessionId: first.sessionId, sxc: "s".repeat(43) }, { "x-user": "alice" }));
      assert.equal(missing.status, 400);
      assert.equal(await problemCode(missing), "bad-request");
      assert.deepEqual([a.seen.reads, a.seen.confirms], [[], []]);
    });

    test("status and confirm ask resolveEntityId too: a signed-out request is refused", async () => {
      const a = app();
      const { sessionId, binding } = await started(a);
      const answer = await a.handler(get("status", { sessionId, binding }));
      assert.equal(answer.status, 403);
      assert.equal(await problemCode(answer), "entity-refused");
      assert.deepEqual(a.seen.reads, []);
    });

    test("a binding from a handler with another secret is refused; one with the same secret is accepted (any app instance)", async () => {
      const recording = recordingSecurix();
      const issuer = app({ bindingSecret: "a".repeat(32) }, recording);
      const { sessionId, binding } = await started(issuer);
      const stranger = app({ bindingSecret: "b".repeat(32) }, recording);
      assert.equal(await problemCode(await stranger.handler(get("status", { sessionId, binding }, { "x-user": "alice" }))), "session-binding-invalid");
      const sibling = app({ bindingSecret: "a".repeat(32) }, recording);
      assert.equal((await sibling.handler(get("status", { sessionId, binding }, { "x-user": "alice" }))).status, 200);
    });

    test("a binding expires some minutes after its session", async () => {
      const a = app({}, recordingSecurix({ expiresAt: () => new Date(Date.now() - 11 * 60 * 1000).toISOString() }));
      const { sessionId, binding } = await started(a);
      const answer = await a.handler(get("status", { sessionId, binding }, { "x-user": "alice" }));
      assert.equal(answer.status, 403);
      assert.equal(await problemCode(answer), "session-binding-expired");
    });
  });
});

describe("the app-backend routes against the real server", () => {
  let securix, oauth, client, handler;
  const allowed = { mock: { scopes: ["openid", "profile"] } };

  before(async () => {
    [securix, oauth] = await Promise.all([startSecurix(), startMockOAuth()]);
    const { apiKey, agentId } = await provision(securix, { oauthBaseUrl: oauth.baseUrl, origin: ORIGIN });
    client = new Securix({ baseUrl: securix.baseUrl, apiKey, agentId });
    handler = createSecurixHandler({ securix: client, resolveEntityId: (request) => fromSession(request) ?? "user_u", providers: allowed });
  });
  after(() => Promise.all([securix?.stop(), oauth?.stop()]));

  test("init creates a popup session for the entity the app resolves; status and confirm follow", async () => {
    const init = await handler(post("init", { entityId: "ignored", providers: { mock: { scopes: ["openid"] } }, sxcChallenge: CHALLENGE }, { "x-user": "alice" }));
    assert.equal(init.status, 201);
    const { sessionId, authUrl, expiresAt, binding } = await init.json();
    assert.ok(authUrl.startsWith(`${securix.baseUrl}/connect/`) && expiresAt);

    const status = await handler(get("status", { sessionId, binding, wait: "0" }, { "x-user": "alice" }));
    assert.deepEqual(await status.json(), { sessionId, status: "pending" });

    const wrong = await handler(post("confirm", { sessionId, binding, sxc: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" }, { "x-user": "alice" }));
    assert.ok([403, 409].includes(wrong.status), String(wrong.status));
    assert.equal(await problemCode(wrong), "securix-refused");
  });

  test("status long-polls for at most 25 s, whatever the browser asks", async () => {
    const init = await handler(post("init", { sxcChallenge: CHALLENGE }));
    const { sessionId, binding } = await init.json();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const answer = await handler(new Request(`${APP}/status?${new URLSearchParams({ sessionId, binding, wait: "600" })}`, { signal: controller.signal }));
    assert.ok(Date.now() - started < 5000, "the browser's abort ends the long-poll");
    assert.ok(answer.status >= 400);
  });

  const refusals = [
    ["bad JSON", () => post("init", "{not json"), 400, "bad-request"],
    ["a JSON array", () => post("init", "[]"), 400, "bad-request"],
    ["a body over 16 KiB", () => post("init", { sxcChallenge: CHALLENGE, pad: "x".repeat(17_000) }), 400, "body-too-large"],
    ["no sxcChallenge", () => post("init", { providers: { mock: {} } }), 400, "bad-request"],
    ["an origin that is not the request's", () => post("init", { sxcChallenge: CHALLENGE, origin: "https://evil.example" }), 400, "bad-request"],
    ["an integration the app does not allow", () => post("init", { providers: { other: {} }, sxcChallenge: CHALLENGE }), 403, "integration-not-allowed"],
    ["a page origin SecuriX does not allow", () => post("init", { sxcChallenge: CHALLENGE }, { origin: "https://evil.example" }), 403, "securix-refused"],
    ["no sessionId", () => new Request(`${APP}/status`), 400, "bad-request"],
    ["status without a binding", () => get("status", { sessionId: "ses_unknown" }), 400, "bad-request"],
    ["confirm without sxc", () => post("confirm", { sessionId: "ses_x", binding: "v1.1.x" }), 400, "bad-request"],
    ["an unknown route", () => new Request(`${APP}/tokens`), 404, "not-found"],
    ["the wrong method", () => new Request(`${APP}/init`), 404, "not-found"],
  ];
  for (const [name, request, status, code] of refusals) {
    test(`refuses ${name} with ${status} ${code}`, async () => {
      const answer = await handler(request());
      const body = await answer.text();
      assert.equal(answer.status, status, body);
      assert.equal(JSON.parse(body).code, code);
      assert.ok(!body.includes(client.apiKey));
    });
  }

  test("an unreachable SecuriX is a 502 that names no secret", async () => {
    const apiKey = client.apiKey;
    const offline = createSecurixHandler({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      apiKey,
      agentId: "web",
      resolveEntityId: () => "user_u",
      providers: allowed,
    });
    const answer = await offline(post("init", { sxcChallenge: CHALLENGE }));
    assert.equal(answer.status, 502);
    const body = await answer.text();
    assert.equal(JSON.parse(body).code, "securix-unreachable");
    assert.ok(!body.includes(apiKey));
  });

  test("toNextJsHandler mounts the same handler for GET and POST", async () => {
    const { GET, POST } = toNextJsHandler({ securix: client, resolveEntityId: () => "user_u", providers: allowed });
    const created = await POST(post("init", { sxcChallenge: CHALLENGE }));
    assert.equal(created.status, 201);
    const { sessionId, binding } = await created.json();
    assert.equal((await (await GET(get("status", { sessionId, binding }))).json()).status, "pending");
  });
});
