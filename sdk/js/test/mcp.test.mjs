// SecuriX's MCP server (`POST /v1/mcp`) driven by the official MCP SDK's client,
// as an agent holding only an agent token: it lists the tools, is told its user
// must connect first, and once the user has typed the code in Chromium and
// consented, calls the provider through `request`.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";

import { launchChromium, noBrowser } from "./support/browser.mjs";
import { ADMIN_TOKEN, call, provision, startMockOAuth, startSecurix } from "./support/peers.mjs";
import { startRemoteMcp } from "./support/remote-mcp.mjs";

describe("the MCP server with the official SDK's client", { skip: noBrowser }, () => {
  let securix, oauth, browser, project, token;

  before(async () => {
    [securix, oauth, browser] = await Promise.all([startSecurix(), startMockOAuth(), launchChromium()]);
    project = await provision(securix, { oauthBaseUrl: oauth.baseUrl, origin: "https://app.example" });
    const admin = { "securix-admin-token": ADMIN_TOKEN };
    const grant = { integrations: { mock: { methods: ["GET"], paths: ["/userinfo"] } }, connectOnDemand: true };
    await call(securix.baseUrl, "PUT", `/v1/admin/projects/${project.projectId}/agents/assistant`, admin, grant);
    const minted = await call(securix.baseUrl, "POST", "/v1/agents/assistant/tokens", { "securix-api-key": project.apiKey }, {
      entityId: "mcp_user",
    });
    token = minted.token;
  });
  after(() => Promise.all([browser?.close(), securix?.stop(), oauth?.stop()]));

  async function connected(headers) {
    const client = new Client({ name: "securix-test-agent", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${securix.baseUrl}/v1/mcp`), { requestInit: { headers } });
    await client.connect(transport);
    return client;
  }

  test("tools, authorization on demand with Chromium typing the code, then a call as the user", async () => {
    const agent = await connected({ authorization: `Bearer ${token}` });
    assert.equal(agent.getServerVersion().name, "securix");
    const { tools } = await agent.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["connect", "list_connections", "request"]);

    const none = await agent.callTool({ name: "list_connections", arguments: {} });
    assert.deepEqual(none.structuredContent, { connections: [] });

    // Not connected yet: a tool error with the problem's code, a link and a code.
    const asked = await agent.callTool({ name: "request", arguments: { integration: "mock", path: "/userinfo" } });
    assert.equal(asked.isError, true);
    const problem = asked.structuredContent.error;
    assert.equal(problem.code, "authorization-required");
    assert.match(asked.content[0].text, new RegExp(problem.deviceAuthCode));
    const again = await agent.callTool({ name: "connect", arguments: { integration: "mock" } });
    assert.equal(again.isError, false);
    assert.equal(again.structuredContent.deviceAuthCode, problem.deviceAuthCode, "the pending session, reused");

    // Outside the grant: refused before any token is touched, naming what.
    const deleting = await agent.callTool({ name: "request", arguments: { integration: "mock", method: "DELETE", path: "/userinfo" } });
    assert.equal(deleting.structuredContent.error.code, "agent-not-allowed");
    assert.equal(deleting.structuredContent.error.refused, "method");

    // The user opens the link in a browser, types the code and consents.
    const user = await (await browser.newContext()).newPage();
    await user.goto(problem.authUrl);
    await user.getByRole("textbox").fill(problem.deviceAuthCode);
    await user.getByRole("button").first().click();
    await user.getByRole("button", { name: /^Continue to/ }).first().click();
    await user.getByText("Done. You can close this window.").waitFor();

    const answered = await agent.callTool({ name: "request", arguments: { integration: "mock", path: "/userinfo" } });
    assert.equal(answered.isError, false, JSON.stringify(answered));
    assert.equal(answered.structuredContent.status, 200);
    assert.ok(answered.structuredContent.json.sub, "the provider's userinfo, as the user");
    const listed = await agent.callTool({ name: "list_connections", arguments: {} });
    assert.equal(listed.structuredContent.connections.length, 1);
    assert.equal(listed.structuredContent.connections[0].integration, "mock");
    for (const result of [asked, answered, listed]) {
      assert.ok(!JSON.stringify(result).includes(oauth.tokens.at(-1) ?? "no token"), "never a provider token");
      assert.ok(!JSON.stringify(result).includes(token), "never the agent token");
    }

    const unknown = await agent.callTool({ name: "delete_everything", arguments: {} }).catch((e) => e);
    assert.ok(unknown instanceof McpError, String(unknown));
    assert.equal(unknown.code, -32602);
    await agent.close();
  });

  test("the identity headers work in place of a token; no credential or a foreign page is refused", async () => {
    const headers = { "securix-api-key": project.apiKey, "securix-agent-id": "assistant", "securix-entity-id": "someone" };
    const agent = await connected(headers);
    const listed = await agent.callTool({ name: "list_connections", arguments: {} });
    assert.deepEqual(listed.structuredContent, { connections: [] });
    await agent.close();

    await assert.rejects(connected({}), /401/);
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } };
    const post = (extra) =>
      fetch(`${securix.baseUrl}/v1/mcp`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", ...extra },
        body: JSON.stringify(initialize),
      });
    assert.equal((await post({ origin: "https://evil.example" })).status, 403, "a foreign page's script");
    assert.equal((await post({ origin: "https://app.example" })).status, 200, "the project's own origin");
    assert.equal((await post({ "mcp-protocol-version": "1999-01-01" })).status, 400);
    const stream = await fetch(`${securix.baseUrl}/v1/mcp`, { headers });
    assert.equal(stream.status, 405);
  });
});

describe("a remote MCP server protected by OAuth, reached through SecuriX", { skip: noBrowser }, () => {
  let securix, remote, browser, project;

  before(async () => {
    [securix, remote, browser] = await Promise.all([startSecurix(), startRemoteMcp(), launchChromium()]);
    const admin = (method, route, body) => call(securix.baseUrl, method, route, { "securix-admin-token": ADMIN_TOKEN }, body);
    const { projectId } = await admin("POST", "/v1/admin/projects", { name: "Agents" });
    const { apiKey } = await admin("POST", `/v1/admin/projects/${projectId}/api-keys`, { name: "backend" });
    project = { projectId, apiKey, admin };
  });
  after(() => Promise.all([browser?.close(), securix?.stop(), remote?.stop()]));

  test("from its URL alone: discovery, registration, the user's consent, then tools through the proxy", async () => {
    const { projectId, apiKey, admin } = project;
    const integration = await admin("PUT", `/v1/admin/projects/${projectId}/integrations/remote`, {
      provider: "mcp_oauth2",
      config: { url: remote.url },
    });
    assert.equal(remote.registrations.length, 1, "SecuriX registered itself at the authorization server");
    assert.equal(integration.clientId, remote.registrations[0]);
    assert.equal(integration.clientSecret, undefined, "the registered secret stays in the vault");
    // No metadata at the URL, no URL, not an http(s) URL: refused, nothing stored.
    for (const config of [{ url: `${securix.baseUrl}/nothing-here` }, {}, { url: "ftp://mcp.example/mcp" }]) {
      const refused = await fetch(`${securix.baseUrl}/v1/admin/projects/${projectId}/integrations/broken`, {
        method: "PUT",
        headers: { "securix-admin-token": ADMIN_TOKEN, "content-type": "application/json" },
        body: JSON.stringify({ provider: "mcp_oauth2", config }),
      });
      assert.equal(refused.status, 400);
      assert.match((await refused.json()).type, /\/invalid-request$/);
    }
    const listed = await admin("GET", `/v1/admin/projects/${projectId}/integrations`);
    assert.deepEqual(listed.items.map((i) => i.integration), ["remote"]);

    await admin("PUT", `/v1/admin/projects/${projectId}/agents/assistant`, { integrations: { remote: {} }, connectOnDemand: true });
    const { token } = await call(securix.baseUrl, "POST", "/v1/agents/assistant/tokens", { "securix-api-key": apiKey }, { entityId: "ada" });
    const endpoint = new URL(`${securix.baseUrl}/v1/proxy/remote/`);
    const headers = { authorization: `Bearer ${token}` };

    // Not connected yet: the proxy asks for the user.
    const first = await fetch(endpoint, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" });
    assert.equal(first.status, 403);
    const asked = await first.json();
    assert.match(asked.type, /authorization-required$/);

    // The user types the code, signs in at the authorization server and consents.
    const user = await (await browser.newContext()).newPage();
    await user.goto(asked.authUrl);
    await user.getByRole("textbox").fill(asked.deviceAuthCode);
    await user.getByRole("button").first().click();
    await user.getByRole("button", { name: /^Continue to/ }).first().click();
    await user.getByPlaceholder("Enter any login").fill("ada@example.com");
    await user.getByPlaceholder("and password").fill("anything");
    await user.getByRole("button", { name: "Sign-in" }).click();
    await user.getByRole("button", { name: "Continue" }).click();
    await user.getByText("Done. You can close this window.").waitFor();

    // The agent's MCP client now reaches the remote server, the user's token added.
    const client = new Client({ name: "securix-test-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(endpoint, { requestInit: { headers } }));
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["whoami"]);
    const whoami = await client.callTool({ name: "whoami", arguments: {} });
    assert.equal(whoami.content[0].text, "ada@example.com");
    await client.close();
  });
});
