// A remote MCP server protected by OAuth, as the MCP authorization spec has it:
// panva's oidc-provider as the authorization server (dynamic client registration,
// PKCE, resource indicators, JWT access tokens for the MCP server's audience), and
// an MCP server built with the official SDK that serves its protected resource
// metadata, answers 401 with `resource_metadata` without a valid token, and offers
// one tool, `whoami`, answering the token's subject.

import http from "node:http";

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createRemoteJWKSet, jwtVerify } from "jose";
import Provider from "oidc-provider";

import { freePort } from "./peers.mjs";

const SCOPE = "mcp:tools";

export async function startRemoteMcp() {
  const [asPort, mcpPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${asPort}`;
  const origin = `http://127.0.0.1:${mcpPort}`;
  const url = `${origin}/mcp`;

  const provider = new Provider(issuer, {
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => url,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== url) throw new Provider.errors.InvalidTarget();
          return { scope: SCOPE, audience: url, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
        },
      },
    },
  });
  provider.proxy = false;
  const authorizationServer = http.createServer(provider.callback());
  await new Promise((resolve) => authorizationServer.listen(asPort, "127.0.0.1", resolve));

  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const metadataPath = "/.well-known/oauth-protected-resource/mcp";
  const metadata = { resource: url, authorization_servers: [issuer], scopes_supported: [SCOPE], bearer_methods_supported: ["header"] };
  const registrations = [];
  const mcpServer = http.createServer(async (req, res) => {
    const path = new URL(req.url, origin).pathname;
    if (path === metadataPath) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(metadata));
      return;
    }
    if (!path.startsWith("/mcp")) {
      res.writeHead(404).end();
      return;
    }
    const token = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    let claims;
    try {
      claims = (await jwtVerify(token ?? "", jwks, { issuer, audience: url })).payload;
    } catch {
      res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}${metadataPath}", scope="${SCOPE}"` }).end();
      return;
    }
    const server = new McpServer({ name: "remote-test", version: "1.0.0" });
    server.registerTool("whoami", { description: "The signed-in user", inputSchema: {} }, async () => ({
      content: [{ type: "text", text: String(claims.sub) }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    let body;
    if (req.method === "POST") {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise((resolve) => mcpServer.listen(mcpPort, "127.0.0.1", resolve));
  provider.on("registration_create.success", (_ctx, client) => registrations.push(client.clientId));

  return {
    url,
    issuer,
    registrations,
    async stop() {
      for (const server of [authorizationServer, mcpServer]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
