// A SecuriX stand-in for tests of what the app backend sends: it records every session
// created, status read and confirm, so "no session was created" can be seen.

import { Securix } from "@securix/sdk";

/**
 * `status` is the status every read answers; `expiresAt()` each new session's expiry.
 * Answers `{securix, seen}`: a Securix client over it, and what it recorded.
 */
export function recordingSecurix({ status = "pending", expiresAt = () => new Date(Date.now() + 15 * 60 * 1000).toISOString() } = {}) {
  const seen = { sessions: [], reads: [], confirms: [] };
  const securix = new Securix({
    baseUrl: "https://securix.example",
    apiKey: "sxk_recording_0123456789",
    fetch: async (url, init) => {
      const { pathname } = new URL(url);
      if (init.method === "POST" && pathname === "/v1/sessions") {
        const body = JSON.parse(init.body);
        const sessionId = `ses_${seen.sessions.length + 1}`;
        seen.sessions.push(body);
        const authUrl = `https://securix.example/connect/${sessionId}`;
        return Response.json({ sessionId, flow: "popup", authUrl, expiresAt: expiresAt() }, { status: 201 });
      }
      const confirm = pathname.match(/^\/v1\/sessions\/([^/]+)\/confirm$/);
      if (init.method === "POST" && confirm) {
        seen.confirms.push({ sessionId: confirm[1], ...JSON.parse(init.body) });
        return Response.json({ status: "completed", connections: [{ connectionId: "con_1" }] });
      }
      const read = pathname.match(/^\/v1\/sessions\/([^/]+)$/);
      if (init.method === "GET" && read) {
        seen.reads.push(read[1]);
        return Response.json({ sessionId: read[1], flow: "popup", status, providers: {} });
      }
      return Response.json({ title: "Not found", status: 404 }, { status: 404 });
    },
  });
  return { securix, seen };
}
