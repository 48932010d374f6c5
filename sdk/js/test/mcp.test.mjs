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
