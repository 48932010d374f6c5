// Credentials typed in a real browser (Debian's chromium): on the device page's
// connect step and in a popup session's page, an API key is checked at the provider
// before it is stored; a refused key is said so on the page and nothing is kept.
// Skipped when chromium is not installed.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, test } from "node:test";

import { launchChromium, noBrowser } from "./support/browser.mjs";
import { ADMIN_TOKEN, call, serveFetch, startSecurix } from "./support/peers.mjs";

describe("credentials typed in chromium", { skip: noBrowser }, () => {
  let securix, provider, browser, apiKey;
  const entity = "typist";

  before(async () => {
    // A provider that takes one key, in `x-api-key`.
    provider = await serveFetch((request) =>
      request.headers.get("x-api-key") === "sk-good"
        ? Response.json({ me: "ok" })
        : Response.json({ error: "bad key" }, { status: 401 }),
    );
    securix = await startSecurix();
    const admin = (method, route, body) => call(securix.baseUrl, method, route, { "securix-admin-token": ADMIN_TOKEN }, body);
    const { projectId } = await admin("POST", "/v1/admin/projects", { name: "Acme Corp" });
    ({ apiKey } = await admin("POST", `/v1/admin/projects/${projectId}/api-keys`, { name: "backend" }));
    await admin("POST", `/v1/admin/projects/${projectId}/agents`, { agentId: "web" });
    await admin("PUT", `/v1/admin/projects/${projectId}/origins`, { origins: ["https://app.example"] });
    await admin("PUT", `/v1/admin/projects/${projectId}/integrations/keyed`, {
      provider: "api_key",
      config: {
        name: "Keyed",
        apiBaseUrl: provider.baseUrl,
        apiKey: { in: "header", name: "x-api-key" },
        credentials: [{ name: "apiKey", label: "API key", secret: true }],
        verify: { method: "GET", path: "/me" },
      },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([securix?.stop(), provider?.stop()]);
  });

  const app = (method, route, body) => call(securix.baseUrl, method, route, { "securix-api-key": apiKey }, body);

  /** Types `key` into the connect page's field and submits. */
  async function typeKey(page, key) {
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Connect Keyed" }).click();
    await page.waitForLoadState();
  }

  test("on the device page: a refused key is said so, the right one connects", async () => {
    const session = await app("POST", "/v1/sessions", { entityId: entity, agentId: "web", flow: "device", providers: { keyed: {} } });
    const page = await (await browser.newContext()).newPage();
    await page.goto(session.authUrl);
    await page.getByRole("textbox").fill(session.deviceAuthCode);
    await page.getByRole("button").first().click();
    await page.getByLabel("API key").waitFor();
    assert.equal(await page.getByLabel("API key").getAttribute("type"), "password", "the key is masked");

    await typeKey(page, "sk-wrong");
    assert.match(await page.getByRole("alert").textContent(), /Keyed refused these credentials \(401\)/);
    assert.equal(await page.getByLabel("API key").inputValue(), "", "a secret is never filled in again");
    assert.deepEqual(await app("GET", `/v1/entities/${entity}/connections`), [], "nothing stored");

    await typeKey(page, "sk-good");
    await page.getByText("Done. You can close this window.").waitFor();
    const connections = await app("GET", `/v1/entities/${entity}/connections`);
    assert.equal(connections.length, 1);
    assert.equal(connections[0].integration, "keyed");
    assert.doesNotMatch(await page.content(), /sk-good|sk-wrong/);
  });

  test("in a popup session's page: the key connects once the app confirms", async () => {
    const sxc = crypto.randomBytes(32).toString("base64url");
    const sxcChallenge = crypto.createHash("sha256").update(sxc).digest("base64url");
    const popupEntity = `${entity}-popup`;
    const session = await app("POST", "/v1/sessions", {
      entityId: popupEntity,
      agentId: "web",
      flow: "popup",
      origin: "https://app.example",
      sxcChallenge,
      providers: { keyed: {} },
    });
    const page = await (await browser.newContext()).newPage();
    await page.goto(session.authUrl);
    await typeKey(page, "sk-good");
    await page.getByText("Done. You can close this window.").waitFor();
    const confirmed = await app("POST", `/v1/sessions/${session.sessionId}/confirm`, { sxc });
    assert.equal(confirmed.status, "completed");
    assert.equal(confirmed.connections[0].integration, "keyed");
    assert.equal(confirmed.connections[0].default, true);
    assert.doesNotMatch(securix.output(), /sk-good|sk-wrong/, "no key in the server's log");
  });
});
