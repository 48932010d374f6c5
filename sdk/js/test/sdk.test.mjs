// @securix/sdk against the real `securix` binary and oauth2-mock-server.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import {
  AuthorizationRequiredError,
  Securix,
  SecurixConfigError,
  SecurixError,
  WebhookVerificationError,
  verifyWebhook,
} from "@securix/sdk";

import {
  ADMIN_TOKEN,
  call,
  completeDeviceFlow,
  freePort,
  provision,
  startMockOAuth,
  startSecurix,
  workspace,
} from "./support/peers.mjs";

const vector = JSON.parse(fs.readFileSync(path.join(workspace, "docs/webhook-test-vector.json"), "utf8"));
const vectorHeaders = {
  "webhook-id": vector.id,
  "webhook-timestamp": vector.timestamp,
  "webhook-signature": vector.signature,
};

describe("webhooks.verify", () => {
  const now = Number(vector.timestamp) + 10;

  test("accepts the published test vector", () => {
    const event = verifyWebhook({ payload: vector.body, headers: vectorHeaders, publicKeys: [vector.publicKey], now });
    assert.equal(event.type, "connection.created");
    assert.equal(event.data.connectionId, "con_test");
  });

  test("accepts Headers objects and Buffer payloads", () => {
    const event = verifyWebhook({
      payload: Buffer.from(vector.body),
      headers: new Headers(vectorHeaders),
      publicKeys: [vector.publicKey],
      now,
    });
    assert.equal(event.data.eventId, vector.id);
  });

  const refusals = {
    "a changed body": [{ payload: vector.body.replace("user_123", "user_124") }, "SECURIX_WEBHOOK_SIGNATURE"],
    "a changed id": [{ headers: { ...vectorHeaders, "webhook-id": `${vector.id}x` } }, "SECURIX_WEBHOOK_SIGNATURE"],
    "a changed timestamp": [
      { headers: { ...vectorHeaders, "webhook-timestamp": String(Number(vector.timestamp) + 1) } },
      "SECURIX_WEBHOOK_SIGNATURE",
    ],
    "an old timestamp": [{ now: Number(vector.timestamp) + 301 }, "SECURIX_WEBHOOK_TIMESTAMP"],
    "another key": [{ publicKeys: ["whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] }, "SECURIX_WEBHOOK_SIGNATURE"],
    "no trusted key at all": [{ publicKeys: [] }, "SECURIX_WEBHOOK_SIGNATURE"],
    "a trusted key that is not a whpk_ key": [{ publicKeys: ["whpk_c2hvcnQ="] }, "SECURIX_WEBHOOK_KEY"],
    "a missing signature": [{ headers: { ...vectorHeaders, "webhook-signature": undefined } }, "SECURIX_WEBHOOK_HEADERS"],
    "a v1 (symmetric) signature only": [
      { headers: { ...vectorHeaders, "webhook-signature": vector.signature.replace("v1a,", "v1,") } },
      "SECURIX_WEBHOOK_SIGNATURE",
    ],
    "a parsed body instead of the raw one": [{ payload: JSON.parse(vector.body) }, "SECURIX_WEBHOOK_PAYLOAD"],
  };
  for (const [name, [change, code]] of Object.entries(refusals)) {
    test(`refuses ${name} (${code})`, () => {
      const options = { payload: vector.body, headers: vectorHeaders, publicKeys: [vector.publicKey], now, ...change };
      assert.throws(() => verifyWebhook(options), (error) => error instanceof WebhookVerificationError && error.code === code);
    });
  }

  // Number(undefined) from a missing setting made `age > NaN` false: any timestamp passed.
  for (const [name, change] of [
    ["a toleranceSeconds that is not a number", { toleranceSeconds: Number(undefined) }],
    ["a negative toleranceSeconds", { toleranceSeconds: -1 }],
    ["a now that is not a number", { now: Number.NaN }],
  ]) {
    test(`refuses ${name} as SECURIX_CONFIG instead of accepting any timestamp`, () => {
      const options = { payload: vector.body, headers: vectorHeaders, publicKeys: [vector.publicKey], now: now + 10_000, ...change };
      assert.throws(() => verifyWebhook(options), (error) => error instanceof SecurixConfigError && error.code === "SECURIX_CONFIG");
    });
  }
});

/** A Securix whose fetch records each call and answers `answer(url, init)` (default: `{}`). */
function recorded(answer = () => Response.json({})) {
  const calls = [];
  const client = new Securix({
    baseUrl: "https://securix.example",
    apiKey: "sxk_test",
    agentId: "web",
    fetch: async (url, init) => {
      calls.push({ url: String(url), method: init.method, headers: new Headers(init.headers) });
      return answer(url, init);
    },
  });
  return { client, calls };
}

const hasCode = (code) => (error) => error instanceof SecurixError && error.code === code;

describe("the Node SDK refuses what would fail open", () => {
  const escapes = [
    "../../entities/user_victim/connections",
    "%2e%2e/%2E%2E/entities/user_victim/connections",
    "..\\..\\entities/user_victim/connections",
    "repos/../../other/userinfo",
  ];
  for (const path of escapes) {
    test(`proxy refuses the path ${JSON.stringify(path)} that climbs out of its integration, before any request`, async () => {
      const { client, calls } = recorded();
      await assert.rejects(client.proxy("github", path, { entityId: "alice" }), hasCode("SECURIX_INVALID_ARGUMENT"));
      assert.equal(calls.length, 0);
    });
  }

  test("proxy keeps a path that stays under its integration, encoded slashes and queries included", async () => {
    const { client, calls } = recorded(() => new Response("ok"));
    await client.proxy("gitlab", "/projects/group%2Fproject/issues?state=opened&x=../..", { entityId: "alice" });
    assert.equal(calls[0].url, "https://securix.example/v1/proxy/gitlab/projects/group%2Fproject/issues?state=opened&x=../..");
  });

  test("ids that a URL parser resolves away (. and ..) are refused before any request", async () => {
    const { client, calls } = recorded();
    await assert.rejects(client.proxy("..", "entities/x/connections", { entityId: "alice" }), hasCode("SECURIX_INVALID_ARGUMENT"));
    await assert.rejects(client.connections.delete("..", ".."), hasCode("SECURIX_INVALID_ARGUMENT"));
    await assert.rejects(client.connections.list("."), hasCode("SECURIX_INVALID_ARGUMENT"));
    await assert.rejects(client.auth.getSession(".."), hasCode("SECURIX_INVALID_ARGUMENT"));
    await assert.rejects(client.auth.confirm("..", "sxc"), hasCode("SECURIX_INVALID_ARGUMENT"));
    assert.equal(calls.length, 0);
  });

  test("proxy drops the caller's securix-* and authorization headers, in any case", async () => {
    const { client, calls } = recorded(() => new Response("ok"));
    await client.proxy("github", "user", {
      entityId: "alice",
      headers: {
        "Securix-Entity-Id": "user_victim",
        "SECURIX-CONNECTION-ID": "con_victim",
        "Securix-Api-Key": "sxk_other",
        "securix-agent-id": "admin",
        Authorization: "Bearer sxa_other",
        accept: "application/json",
      },
    });
    const sent = calls[0].headers;
    assert.equal(sent.get("securix-entity-id"), "alice");
    assert.equal(sent.get("securix-connection-id"), null);
    assert.equal(sent.get("securix-api-key"), "sxk_test");
    assert.equal(sent.get("securix-agent-id"), "web");
    assert.equal(sent.get("authorization"), null);
    assert.equal(sent.get("accept"), "application/json");
  });

  test("request() sends the client's own key and agent whatever headers the caller passed", async () => {
    const { client, calls } = recorded();
    await client.request("GET", "/v1/integrations", { headers: { "SECURIX-API-KEY": "sxk_other", "Securix-Agent-Id": "admin" } });
    assert.equal(calls[0].headers.get("securix-api-key"), "sxk_test");
    assert.equal(calls[0].headers.get("securix-agent-id"), "web");
  });

  const insecure = ["http://securix.internal:8080", "http://10.0.0.5", "http://[2001:db8::1]:8080"];
  for (const baseUrl of insecure) {
    test(`a plain-http baseUrl off loopback (${baseUrl}) is SECURIX_CONFIG: the API key would travel in clear`, () => {
      assert.throws(() => new Securix({ baseUrl, apiKey: "sxk_test" }), (error) => error instanceof SecurixConfigError && error.code === "SECURIX_CONFIG");
    });
  }

  test("plain http stays allowed on loopback, and elsewhere only when asked for", () => {
    for (const baseUrl of ["http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080"]) {
      assert.equal(new Securix({ baseUrl, apiKey: "k" }).baseUrl, baseUrl.replace(/\/$/, ""));
    }
    assert.equal(new Securix({ baseUrl: "http://securix.internal:8080", allowInsecureHttp: true }).baseUrl, "http://securix.internal:8080");
  });

  test("a baseUrl that is not http(s), or carries credentials, is SECURIX_CONFIG", () => {
    for (const baseUrl of ["securix.example", "ftp://securix.example", "https://user:pass@securix.example"]) {
      assert.throws(() => new Securix({ baseUrl }), hasCode("SECURIX_CONFIG"), baseUrl);
    }
  });

  test("no API key is SECURIX_CONFIG, before any request", async () => {
    const calls = [];
    const client = new Securix({ baseUrl: "https://securix.example", apiKey: "", fetch: async () => calls.push(1) });
    await assert.rejects(client.connections.list("u"), (error) => error instanceof SecurixConfigError && error.code === "SECURIX_CONFIG");
    assert.equal(calls.length, 0);
  });

  test("SecuriX's problems are SECURIX_API with status and type; transport failures have their own codes", async () => {
    const problem = { type: "https://securix.example/problems/agent-not-allowed", title: "Forbidden", status: 403 };
    const { client } = recorded(() => new Response(JSON.stringify(problem), { status: 403, headers: { "content-type": "application/problem+json" } }));
    const refused = await client.connections.list("u").catch((e) => e);
    assert.equal(refused.code, "SECURIX_API");
    assert.equal(refused.status, 403);
    assert.equal(refused.type, problem.type);

    const down = new Securix({ baseUrl: "https://securix.example", apiKey: "k", fetch: async () => { throw new TypeError("fetch failed"); } });
    assert.equal((await down.connections.list("u").catch((e) => e)).code, "SECURIX_UNREACHABLE");

    // A SecuriX that never answers; the ref'd timer stands for the socket a real fetch holds
    // open (AbortSignal.timeout's own timer does not keep Node alive).
    const hang = (url, init) =>
      new Promise((_, reject) => {
        const socket = setTimeout(() => {}, 10_000);
        init.signal.addEventListener("abort", () => {
          clearTimeout(socket);
          reject(init.signal.reason);
        });
      });
    const slow = new Securix({ baseUrl: "https://securix.example", apiKey: "k", timeoutMs: 50, fetch: hang });
    assert.equal((await slow.connections.list("u").catch((e) => e)).code, "SECURIX_TIMEOUT");

    const controller = new AbortController();
    const waiting = new Securix({ baseUrl: "https://securix.example", apiKey: "k", fetch: hang }).auth.getSession("ses_1", { signal: controller.signal });
    controller.abort();
    assert.equal((await waiting.catch((e) => e)).code, "SECURIX_ABORTED");
  });

  test("missing arguments are SECURIX_INVALID_ARGUMENT, before any request", async () => {
    const { client, calls } = recorded();
    for (const call of [
      () => client.auth.createSession({ entityId: "", flow: "device", providers: {} }),
      () => client.auth.createSession({ entityId: "u", flow: "popup", providers: {} }),
      () => client.auth.createSession({ entityId: "u", flow: "sms", providers: {} }),
      () => client.connections.list(undefined),
      () => client.proxy("github", "user", {}),
      () => client.auth.confirm("ses_1", ""),
    ]) {
      await assert.rejects(call(), hasCode("SECURIX_INVALID_ARGUMENT"));
    }
    assert.equal(calls.length, 0);
  });
});

describe("the Node SDK against a real server", () => {
  let securix, oauth, client, projectId;

  before(async () => {
    [securix, oauth] = await Promise.all([startSecurix(), startMockOAuth()]);
    const provisioned = await provision(securix, { oauthBaseUrl: oauth.baseUrl, origin: "https://app.example" });
    projectId = provisioned.projectId;
    client = new Securix({ baseUrl: securix.baseUrl, apiKey: provisioned.apiKey, agentId: provisioned.agentId });
  });
  after(() => Promise.all([securix?.stop(), oauth?.stop()]));

  test("device flow: createSession → the user consents → waitForSession → connections → proxy → delete", async () => {
    const { sessionId, authUrl, deviceAuthCode, interval } = await client.auth.createSession({
      entityId: "cli_user_1",
      flow: "device",
      providers: { mock: { scopes: ["openid"] } },
    });
    assert.equal(authUrl, `${securix.baseUrl}/device`);
    assert.match(deviceAuthCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.ok(interval >= 1);
    assert.equal((await client.auth.getSession(sessionId)).status, "pending");

    const waiting = client.auth.waitForSession(sessionId, { timeoutMs: 30_000 });
    await completeDeviceFlow(securix, deviceAuthCode);
    const view = await waiting;
    assert.equal(view.status, "completed");
    const connectionId = view.providers.mock.connectionId;

    const connections = await client.connections.list("cli_user_1");
    assert.deepEqual(connections.map((c) => c.connectionId), [connectionId]);
    assert.ok(!JSON.stringify(connections).includes(oauth.tokens[0]), "never a token");

    const userinfo = await client.proxy("mock", "userinfo", { entityId: "cli_user_1" });
    assert.equal(userinfo.status, 200);
    assert.ok((await userinfo.json()).sub, "the provider answered through the proxy");

    await client.connections.delete("cli_user_1", connectionId);
    assert.deepEqual(await client.connections.list("cli_user_1"), []);
  });

  test("the static Securix reads its settings from the environment", async () => {
    process.env.SECURIX_URL = client.baseUrl;
    process.env.SECURIX_API_KEY = client.apiKey;
    process.env.SECURIX_AGENT_ID = "web";
    const { authUrl, deviceAuthCode } = await Securix.auth.createSession({
      entityId: "cli_user_2",
      flow: "device",
      providers: { mock: { scopes: [] } },
    });
    assert.ok(authUrl && deviceAuthCode);
  });

  test("errors carry the problem type and status, never the API key", async () => {
    const wrongSxc = await client.auth
      .createSession({ entityId: "u", flow: "popup", providers: { mock: {} }, sxcChallenge: "A".repeat(43), origin: "https://app.example" })
      .then(({ sessionId }) => client.auth.confirm(sessionId, "not-the-sxc"))
      .catch((error) => error);
    assert.ok(wrongSxc instanceof SecurixError);
    assert.equal(wrongSxc.code, "SECURIX_API");
    assert.ok([403, 409].includes(wrongSxc.status), String(wrongSxc.status));
    assert.match(wrongSxc.type, /^https?:\/\//);

    const badKey = await new Securix({ baseUrl: securix.baseUrl, apiKey: "sxk_wrong" }).connections.list("u").catch((e) => e);
    assert.equal(badKey.status, 401);

    const unreachable = await new Securix({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: client.apiKey })
      .connections.list("u")
      .catch((e) => e);
    assert.ok(unreachable instanceof SecurixError && unreachable.status === undefined);
    assert.equal(unreachable.code, "SECURIX_UNREACHABLE");
    for (const error of [wrongSxc, badKey, unreachable]) {
      assert.ok(!`${error.message} ${error.stack} ${error.detail}`.includes(client.apiKey));
    }
  });

  test("a call that outlives timeoutMs fails with a clear error", async () => {
    const { sessionId } = await client.auth.createSession({ entityId: "slow", flow: "device", providers: { mock: {} } });
    const impatient = new Securix({ baseUrl: securix.baseUrl, apiKey: client.apiKey, agentId: "web", timeoutMs: 200 });
    const started = Date.now();
    const error = await impatient.request("GET", `/v1/sessions/${sessionId}?wait=5`).catch((e) => e);
    assert.ok(error instanceof SecurixError && error.code === "SECURIX_TIMEOUT", String(error));
    assert.ok(Date.now() - started < 3000);
  });

  test("an agent holding only a token is asked to have its user connect, waits, then calls", async () => {
    const grant = { integrations: { mock: { methods: ["GET"] } }, connectOnDemand: true };
    await call(securix.baseUrl, "PUT", `/v1/admin/projects/${projectId}/agents/assistant`, { "securix-admin-token": ADMIN_TOKEN }, grant);
    const { token, tokenId } = await client.agents.mintToken("assistant", { entityId: "ada", expiresIn: 300 });
    assert.match(token, /^sxa_/);
    const agent = new Securix({ baseUrl: securix.baseUrl, agentToken: token });

    const asked = await agent.proxy("mock", "userinfo").catch((e) => e);
    assert.ok(asked instanceof AuthorizationRequiredError, String(asked));
    assert.equal(asked.code, "SECURIX_AUTHORIZATION_REQUIRED");
    assert.equal(asked.authUrl, `${securix.baseUrl}/device`);
    const refused = await agent.proxy("mock", "userinfo", { method: "DELETE" }).catch((e) => e);
    assert.equal(refused.refused, "method");

    const waiting = agent.auth.waitForAuthorization(asked, { timeoutMs: 30_000 });
    await completeDeviceFlow(securix, asked.deviceAuthCode);
    assert.equal((await waiting).status, "completed");
    const userinfo = await agent.proxy("mock", "userinfo");
    assert.equal(userinfo.status, 200);

    await client.agents.revokeToken("assistant", tokenId);
    assert.equal((await agent.proxy("mock", "userinfo").catch((e) => e)).status, 401);
    assert.ok(!`${asked.message} ${asked.stack}`.includes(token), "the token never shows in an error");
  });

  test("webhooks.keys lists the server's active keys", async () => {
    const keys = await client.webhooks.keys();
    assert.ok(keys.length >= 1 && keys.every((k) => k.startsWith("whpk_")));
  });

});
