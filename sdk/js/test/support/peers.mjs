// The real processes and peers the SDK tests run against: the `securix` binary,
// oauth2-mock-server (a third-party OAuth 2.0 / OIDC server) and a webhook receiver.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { OAuth2Server } from "oauth2-mock-server";

const here = path.dirname(fileURLToPath(import.meta.url));
export const workspace = path.resolve(here, "../../../..");
export const ADMIN_TOKEN = "sdk-tests-admin-token-0123456789";
export const CLIENT_SECRET = "mock-client-secret-7e1f0c";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `securix serve` on a free port with a fresh data dir; `output()` is everything it logged. */
export async function startSecurix() {
  const bin = process.env.SECURIX_BIN ?? path.join(workspace, "target/debug/securix");
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run cargo build first`);
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "securix-sdk-"));
  const baseUrl = `http://127.0.0.1:${port}`;
  let output = "";
  const child = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      SECURIX_LISTEN: `127.0.0.1:${port}`,
      SECURIX_DATA_DIR: dataDir,
      SECURIX_PUBLIC_URL: baseUrl,
      SECURIX_ADMIN_TOKEN: ADMIN_TOKEN,
      SECURIX_ALLOW_LOOPBACK_HTTP: "1",
      SECURIX_WEBHOOK_SCHEDULE: "0,1,1,1,1,1,1,1,1,1",
      RUST_LOG: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  await waitUntil(async () => (await fetch(`${baseUrl}/readyz`).catch(() => undefined))?.ok, 30_000, "securix to start");
  return {
    baseUrl,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve()));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** oauth2-mock-server on loopback; `tokens` collects every token it hands out. */
export async function startMockOAuth() {
  const server = new OAuth2Server();
  await server.issuer.keys.generate("RS256");
  await server.start(await freePort(), "127.0.0.1");
  const tokens = [];
  server.service.on("beforeResponse", (response) => {
    for (const name of ["access_token", "refresh_token", "id_token"]) {
      if (response.body?.[name]) tokens.push(response.body[name]);
    }
  });
  return { baseUrl: server.issuer.url, tokens, stop: () => server.stop() };
}

/** An admin's set-up: a project with an API key, an agent, the mock integration, origins, a webhook endpoint. */
export async function provision(securix, { oauthBaseUrl, origin, webhookUrl }) {
  const admin = (method, route, body) => call(securix.baseUrl, method, route, { "securix-admin-token": ADMIN_TOKEN }, body);
  const { projectId } = await admin("POST", "/v1/admin/projects", { name: "Acme Corp" });
  const { apiKey } = await admin("POST", `/v1/admin/projects/${projectId}/api-keys`, { name: "web backend" });
  await admin("POST", `/v1/admin/projects/${projectId}/agents`, { agentId: "web" });
  await admin("PUT", `/v1/admin/projects/${projectId}/integrations/mock`, {
    provider: "oauth2",
    clientId: "securix-sdk-tests",
    clientSecret: CLIENT_SECRET,
    scopes: ["openid", "profile"],
    config: { discoveryUrl: `${oauthBaseUrl}/.well-known/openid-configuration`, apiBaseUrl: oauthBaseUrl },
  });
  await admin("PUT", `/v1/admin/projects/${projectId}/origins`, { origins: [origin] });
  if (webhookUrl) await admin("POST", `/v1/admin/projects/${projectId}/webhook-endpoints`, { url: webhookUrl });
  return { projectId, apiKey, agentId: "web" };
}

/** A JSON call to SecuriX; a failure status throws with the answer. */
export async function call(baseUrl, method, route, headers, body) {
  const response = await fetch(`${baseUrl}${route}`, {
    method,
    headers: { ...headers, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Serves `handler(request: Request) => Response` (the Fetch API) on a free loopback port. */
export async function serveFetch(handler) {
  const port = await freePort();
  const server = http.createServer(async (incoming, outgoing) => {
    const chunks = [];
    for await (const chunk of incoming) chunks.push(chunk);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const request = new Request(`http://127.0.0.1:${port}${incoming.url}`, {
      method: incoming.method,
      headers: Object.entries(incoming.headers).flatMap(([name, value]) =>
        (Array.isArray(value) ? value : [value]).map((v) => [name, v]),
      ),
      body: ["GET", "HEAD"].includes(incoming.method) ? undefined : body,
    });
    const response = await handler(request, body);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}

export async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The user's side of a device flow without a browser engine: types the code at
 * `/device`, continues to the provider (which approves) and follows it back.
 */
export async function completeDeviceFlow(securix, deviceAuthCode, integration = "mock") {
  // A browser's own form posts: its cookie, the page's CSRF token, and Sec-Fetch-Site.
  const post = (path, cookie, fields) =>
    fetch(`${securix.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", cookie },
      body: new URLSearchParams(fields).toString(),
      redirect: "manual",
    });
  const entry = await fetch(`${securix.baseUrl}/device`);
  const cookie = entry.headers.get("set-cookie")?.split(";")[0];
  const csrf = (await entry.text()).match(/name="csrf" value="([^"]+)"/)?.[1];
  if (!cookie || !csrf) throw new Error("the device page set no cookie or token");
  const entered = await post("/device", cookie, { csrf, code: deviceAuthCode });
  const consentPath = entered.headers.get("location");
  if (entered.status !== 303) throw new Error(`code entry answered ${entered.status}`);
  const authorized = await post(`${consentPath}/authorize`, cookie, { csrf, integration });
  const atProvider = await fetch(authorized.headers.get("location"), { redirect: "manual" });
  const callback = await fetch(atProvider.headers.get("location"), { headers: { cookie }, redirect: "manual" });
  if (!callback.ok) throw new Error(`the callback answered ${callback.status}`);
}
