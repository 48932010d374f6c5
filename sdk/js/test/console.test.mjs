// The operator's console at /console in a real browser (Debian's chromium): sign in
// with the admin token, create a project and a key (shown once), add an
// integration from the catalog, watch a connection appear after a user connects on
// the device page, retry a failed webhook delivery, sign out. A cross-site POST
// changes nothing; wrong tokens are refused, then rate limited.
// Skipped when chromium is not installed.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { launchChromium, noBrowser } from "./support/browser.mjs";
import { ADMIN_TOKEN, call, freePort, serveFetch, startSecurix, waitUntil } from "./support/peers.mjs";

describe("the console in chromium", { skip: noBrowser }, () => {
  let securix, provider, attacker, browser;

  before(async () => {
    provider = await serveFetch((request) => {
      if (request.headers.get("x-api-key") !== "sk-good") return Response.json({ error: "bad key" }, { status: 401 });
      return new URL(request.url).pathname === "/busy"
        ? Response.json({ error: "try later" }, { status: 503 })
        : Response.json({ me: "ok" });
    });
    securix = await startSecurix();
    // Another site, whose page posts a form to the console as soon as it loads.
    attacker = await serveFetch(() =>
      new Response(
        `<form id="f" method="post" action="${securix.baseUrl}/console/projects"><input name="name" value="Evil"><input name="csrf" value="x"></form><script>document.getElementById("f").submit()</script>`,
        { headers: { "content-type": "text/html" } },
      ),
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([securix?.stop(), provider?.stop(), attacker?.stop()]);
  });

  const admin = (method, route, body) => call(securix.baseUrl, method, route, { "securix-admin-token": ADMIN_TOKEN }, body);

  async function signIn(page, token) {
    await page.goto(`${securix.baseUrl}/console`);
    await page.getByLabel("Admin token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
  }

  test("an operator signs in, sets a project up, watches it work and signs out", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on("dialog", (dialog) => dialog.accept());
    await page.goto(`${securix.baseUrl}/console`);
    assert.match(page.url(), /\/console\/sign-in$/, "signed out, the console asks for the token");
    await signIn(page, ADMIN_TOKEN);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "securix_console");
    assert.ok(session?.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
    await page.getByText("No projects yet").waitFor();

    await page.getByLabel("Name").fill("Acme production");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("heading", { name: "Acme production" }).waitFor();
    const projectId = (await page.locator("main > p code").first().textContent()).trim();
    assert.match(projectId, /^prj_/);
    await page.getByText("No integrations.").waitFor();

    await page.getByLabel("Name").fill("backend");
    await page.getByRole("button", { name: "Create key" }).click();
    const apiKey = (await page.locator("#new-key").textContent()).trim();
    assert.match(apiKey, /^sxk_/, "the new key, shown once");
    await page.reload();
    assert.doesNotMatch(await page.content(), new RegExp(apiKey), "and never again");
    assert.match(await page.locator("#keys").textContent(), /backend/);

    // A section longer than a page: the next page, then back to the first.
    for (let i = 0; i < 26; i++) await admin("POST", `/v1/admin/projects/${projectId}/api-keys`, { name: `ci-${i}` });
    await page.reload();
    assert.equal(await page.locator("#keys tbody tr").count(), 25);
    await page.locator("#keys nav").getByRole("link", { name: "Next 25" }).click();
    await page.waitForURL(/section=keys/);
    const { items: keys } = await admin("GET", `/v1/admin/projects/${projectId}/api-keys?limit=500`);
    assert.ok(keys.length > 26);
    assert.equal(await page.locator("#keys tbody tr").count(), keys.length - 25, "the rest of the keys");
    assert.equal(await page.locator("#keys nav").getByRole("link", { name: /^Next/ }).count(), 0, "the last page");
    await page.locator("#keys nav").getByRole("link", { name: "First page" }).click();
    assert.equal(await page.locator("#keys tbody tr").count(), 25);

    await page.getByLabel("Search providers").fill("github");
    await page.getByRole("button", { name: "Search" }).click();
    const card = page.locator("form.match", { hasText: "GitHub" }).first();
    await card.getByLabel("Client id").fill("gh-client");
    await card.getByLabel("Client secret").fill("gh-secret-never-shown");
    await card.getByRole("button", { name: /^Add GitHub/ }).click();
    await page.locator("#integrations td", { hasText: "gh-client" }).waitFor();
    assert.doesNotMatch(await page.content(), /gh-secret-never-shown/);

    // A user connects on the device page; the connection shows in the console.
    await admin("POST", `/v1/admin/projects/${projectId}/agents`, { agentId: "web" });
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
    // Agents and what each may use; one deleted from the console.
    const grant = { integrations: { keyed: { methods: ["GET"], paths: ["/me"] } }, connectOnDemand: true };
    await admin("PUT", `/v1/admin/projects/${projectId}/agents/helper`, grant);
    await page.reload();
    const agents = page.locator("#agents");
    assert.match(await agents.locator("tr", { hasText: "web" }).textContent(), /every integration/);
    assert.match(await agents.locator("tr", { hasText: "helper" }).textContent(), /keyed \(methods GET; paths \/me\)\s*yes/);
    await agents.locator("tr", { hasText: "helper" }).getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/#agents$/);
    assert.equal(await page.locator("#agents tr", { hasText: "helper" }).count(), 0, "deleted");

    const dead = `http://127.0.0.1:${await freePort()}/hooks`;
    await admin("POST", `/v1/admin/projects/${projectId}/webhook-endpoints`, { url: dead });
    const app = (method, route, body) => call(securix.baseUrl, method, route, { "securix-api-key": apiKey }, body);
    const device = await app("POST", "/v1/sessions", { entityId: "ada", agentId: "web", flow: "device", providers: { keyed: {} } });
    const user = await (await browser.newContext()).newPage();
    await user.goto(device.authUrl);
    await user.getByRole("textbox").fill(device.deviceAuthCode);
    await user.getByRole("button").first().click();
    await user.getByLabel("API key").fill("sk-good");
    await user.getByRole("button", { name: "Connect Keyed" }).click();
    await user.getByText("Done. You can close this window.").waitFor();
    await page.reload();
    const connections = page.locator("#connections");
    assert.match(await connections.textContent(), /ada[\s\S]*keyed[\s\S]*active/);
    assert.match(await page.locator("#sessions").textContent(), /completed/);
    assert.match(await page.locator("#events").textContent(), /connection\.created[\s\S]*ada/, "the event webhooks carry");

    // The dead endpoint's delivery failed: retry it from the console.
    await waitUntil(async () => {
      await page.reload();
      return (await page.locator("#deliveries button", { hasText: "Retry" }).count()) > 0;
    }, 15_000, "a failed delivery in the console");
    const before = await page.locator("#deliveries tbody tr").count();
    await page.locator("#deliveries button", { hasText: "Retry" }).first().click();
    await page.waitForURL(/#deliveries$/);
    await waitUntil(async () => {
      await page.reload();
      return (await page.locator("#deliveries tbody tr").count()) > before;
    }, 15_000, "the retried attempt in the log");

    // The day's charts: the calls just made through the proxy (one the provider
    // failed), the failed attempts.
    for (const [path, status] of [["me", 200], ["busy", 503]]) {
      const proxied = await fetch(`${securix.baseUrl}/v1/proxy/keyed/${path}`, {
        headers: { "securix-api-key": apiKey, "securix-agent-id": "web", "securix-entity-id": "ada" },
      });
      assert.equal(proxied.status, status);
    }
    await waitUntil(async () => {
      await page.reload();
      return /Calls to keyed\s+2 calls/.test(await page.locator("#activity").textContent());
    }, 15_000, "the proxy calls in the day's chart");
    const activity = await page.locator("#activity").textContent();
    assert.match(activity, /Proxy calls\s+2 calls/);
    assert.match(activity, /1 answered, 1 failed/, "the hour's bar says how many calls failed");
    assert.match(activity, /Webhook attempts\s+[1-9]\d* attempts/);
    assert.equal(await page.locator("#activity svg").count(), 4, "three charts and one for keyed");

    // A reconnect link for the user: the connection keeps its id.
    const [connected] = await app("GET", "/v1/entities/ada/connections");
    await page.locator("#connections button", { hasText: "Reconnect link" }).first().click();
    const code = (await page.locator("#reconnect-code").textContent()).trim();
    assert.match(await page.locator("#reconnect-url").textContent(), /\/device$/);
    await user.goto(`${securix.baseUrl}/device`);
    await user.getByRole("textbox").fill(code);
    await user.getByRole("button").first().click();
    await user.getByLabel("API key").fill("sk-good");
    await user.getByRole("button", { name: "Connect Keyed" }).click();
    await user.getByText("Done. You can close this window.").waitFor();
    const [reconnected] = await app("GET", "/v1/entities/ada/connections");
    assert.equal(reconnected.connectionId, connected.connectionId, "reconnected in place");

    // "Try it" on an integration: the operator connects a test entity themselves.
    await page.locator("#integrations tr", { hasText: "keyed" }).getByRole("button", { name: "Try it" }).click();
    await page.getByRole("heading", { name: "Try keyed" }).waitFor();
    const tryCode = (await page.locator("#reconnect-code").textContent()).trim();
    await user.goto(`${securix.baseUrl}/device`);
    await user.getByRole("textbox").fill(tryCode);
    await user.getByRole("button").first().click();
    await user.getByLabel("API key").fill("sk-good");
    await user.getByRole("button", { name: "Connect Keyed" }).click();
    await user.getByText("Done. You can close this window.").waitFor();
    await page.goto(`${securix.baseUrl}/console/projects/${projectId}?entity=console-try`);
    await page.locator("#connections td", { hasText: "console-try" }).waitFor();

    // Find one entity's connections, then revoke the one it has.
    await page.getByLabel("Find an entity's connections").fill("nobody");
    await page.getByRole("button", { name: "Find" }).click();
    await page.locator("#connections", { hasText: "No one is connected yet" }).waitFor();
    await page.getByLabel("Find an entity's connections").fill("ada");
    await page.getByRole("button", { name: "Find" }).click();
    await page.locator("#connections td", { hasText: "keyed" }).waitFor();
    await page.locator("#connections button", { hasText: "Revoke" }).click();
    await page.waitForURL(/#connections$/);
    const left = await page.locator("#connections tbody").textContent();
    assert.ok(left.includes("console-try") && !/\bada\b/.test(left), left);
    assert.deepEqual(await app("GET", "/v1/entities/ada/connections"), [], "revoked for the app too");

    await page.getByRole("link", { name: "Cluster" }).click();
    await page.getByRole("heading", { name: "Shards" }).waitFor();
    assert.equal(await page.locator("#shards tbody tr").count(), 64, "every shard and its owner");
    assert.match(await page.locator("main").textContent(), /single node/i);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/sign-in$/);
    await page.goto(`${securix.baseUrl}/console/projects/${projectId}`);
    assert.match(page.url(), /\/console\/sign-in$/, "signed out, the session is over");
  });

  test("a cross-site POST changes nothing", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, ADMIN_TOKEN);
    const before = (await admin("GET", "/v1/admin/projects")).items.length;
    const evil = await context.newPage();
    await evil.goto(attacker.baseUrl);
    await evil.waitForLoadState("networkidle");
    assert.notEqual(await evil.evaluate(() => document.body.innerText), "", "the post was answered");
    const projects = (await admin("GET", "/v1/admin/projects")).items;
    assert.equal(projects.length, before, "no project was created");
    assert.ok(!projects.some((p) => p.name === "Evil"));
  });

  test("a wrong token is refused, then rate limited", async () => {
    const page = await (await browser.newContext()).newPage();
    for (let attempt = 0; attempt < 5; attempt++) {
      await signIn(page, "not-the-admin-token");
      assert.match(await page.getByRole("alert").textContent(), /not the admin token/);
    }
    const response = page.waitForResponse((r) => r.url().endsWith("/console/sign-in") && r.request().method() === "POST");
    await signIn(page, ADMIN_TOKEN);
    assert.equal((await response).status(), 429, "even the right token waits out the window");
    assert.match(await page.getByRole("alert").textContent(), /Too many wrong tokens/);
  });
});
