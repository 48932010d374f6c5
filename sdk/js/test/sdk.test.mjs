// @securix/sdk against the real `securix` binary and oauth2-mock-server.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { Securix, SecurixError, WebhookVerificationError, verifyWebhook } from "@securix/sdk";

import { completeDeviceFlow, freePort, provision, startMockOAuth, startSecurix, workspace } from "./support/peers.mjs";

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
    "a changed body": { payload: vector.body.replace("user_123", "user_124") },
    "a changed id": { headers: { ...vectorHeaders, "webhook-id": `${vector.id}x` } },
    "a changed timestamp": { headers: { ...vectorHeaders, "webhook-timestamp": String(Number(vector.timestamp) + 1) } },
    "an old timestamp": { now: Number(vector.timestamp) + 301 },
    "another key": { publicKeys: ["whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] },
    "a missing signature": { headers: { ...vectorHeaders, "webhook-signature": undefined } },
    "a v1 (symmetric) signature only": { headers: { ...vectorHeaders, "webhook-signature": vector.signature.replace("v1a,", "v1,") } },
  };
  for (const [name, change] of Object.entries(refusals)) {
    test(`refuses ${name}`, () => {
      const options = { payload: vector.body, headers: vectorHeaders, publicKeys: [vector.publicKey], now, ...change };
      assert.throws(() => verifyWebhook(options), WebhookVerificationError);
    });
  }
});

describe("the Node SDK against a real server", () => {
  let securix, oauth, client;

  before(async () => {
    [securix, oauth] = await Promise.all([startSecurix(), startMockOAuth()]);
    const { apiKey, agentId } = await provision(securix, { oauthBaseUrl: oauth.baseUrl, origin: "https://app.example" });
    client = new Securix({ baseUrl: securix.baseUrl, apiKey, agentId });
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
    assert.ok([403, 409].includes(wrongSxc.status), String(wrongSxc.status));
    assert.match(wrongSxc.type, /^https?:\/\//);

    const badKey = await new Securix({ baseUrl: securix.baseUrl, apiKey: "sxk_wrong" }).connections.list("u").catch((e) => e);
    assert.equal(badKey.status, 401);

    const unreachable = await new Securix({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: client.apiKey })
      .connections.list("u")
      .catch((e) => e);
    assert.ok(unreachable instanceof SecurixError && unreachable.status === undefined);
    for (const error of [wrongSxc, badKey, unreachable]) {
      assert.ok(!`${error.message} ${error.stack} ${error.detail}`.includes(client.apiKey));
    }
  });

  test("a call that outlives timeoutMs fails with a clear error", async () => {
    const { sessionId } = await client.auth.createSession({ entityId: "slow", flow: "device", providers: { mock: {} } });
    const impatient = new Securix({ baseUrl: securix.baseUrl, apiKey: client.apiKey, agentId: "web", timeoutMs: 200 });
    const started = Date.now();
    const error = await impatient.request("GET", `/v1/sessions/${sessionId}?wait=5`).catch((e) => e);
    assert.ok(error instanceof SecurixError && /timed out after 200 ms/.test(error.message), String(error));
    assert.ok(Date.now() - started < 3000);
  });

  test("webhooks.keys lists the server's active keys", async () => {
    const keys = await client.webhooks.keys();
    assert.ok(keys.length >= 1 && keys.every((k) => k.startsWith("whpk_")));
  });

  test("missing arguments are refused before any request", async () => {
    await assert.rejects(client.auth.createSession({ entityId: "", flow: "device", providers: {} }), SecurixError);
    await assert.rejects(client.auth.createSession({ entityId: "u", flow: "popup", providers: {} }), /sxcChallenge/);
    await assert.rejects(client.auth.createSession({ entityId: "u", flow: "sms", providers: {} }), /flow/);
    await assert.rejects(client.connections.list(undefined), /entityId/);
  });
});
