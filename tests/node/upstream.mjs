// A provider API for the proxy tests. Usage: node upstream.mjs PORT
// Prints {"listening": PORT} once it listens. Routes (under any prefix):
//   .../echo      any method: {method, url, headers, bodyLength, bodySha256}
//   .../big?bytes=N   N bytes of 'x' in 64 KiB chunks, no content-length (chunked)
//   .../sized     "hello world" with its content-length (HEAD: the length, no body)
//   .../truncated declares 100 bytes, sends 10, then drops the connection
//   .../unchanged 304 naming the full representation's length (and sending no body)
//   .../keyed/...  a provider that takes one key: x-api-key or Bearer "sk-good", Basic
//                 with any user and the password s3cret, or ?key=sk-good; 401 otherwise
//                 (.../keyed/down: 503);
//                 .../keyed/.../echo echoes, anything else answers {"ok": true}
//   .../accessible-resources  with a Bearer token: Atlassian's list of sites; else 401
//   .../flaky?key=K&times=N&status=S[&after=A]  the first N requests of key K get
//                 status S (with `retry-after: A` if given), then {attempt} as JSON
import http from "node:http";
import crypto from "node:crypto";

const [port] = process.argv.slice(2);
const attempts = new Map();

http
  .createServer((request, response) => {
    const url = new URL(request.url, "http://upstream");
    const hash = crypto.createHash("sha256");
    let bodyLength = 0;
    request.on("data", (chunk) => {
      bodyLength += chunk.length;
      hash.update(chunk);
    });
    request.on("end", () => {
      if (url.pathname.includes("/keyed/")) {
        const authorization = request.headers.authorization ?? "";
        const good =
          request.headers["x-api-key"] === "sk-good" ||
          authorization === "Bearer sk-good" ||
          (authorization.startsWith("Basic ") &&
            Buffer.from(authorization.slice(6), "base64").toString().endsWith(":s3cret")) ||
          url.searchParams.get("key") === "sk-good";
        if (url.pathname.endsWith("/down")) return response.writeHead(503).end();
        if (!good) return response.writeHead(401, { "content-type": "application/json" }).end('{"error":"bad key"}');
      }
      if (url.pathname.endsWith("/echo")) {
        const { method, headers } = request;
        const echoed = { method, url: request.url, headers, bodyLength, bodySha256: hash.digest("hex") };
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(echoed));
      } else if (url.pathname.endsWith("/big")) {
        let left = Number(url.searchParams.get("bytes"));
        response.writeHead(200, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(64 << 10, "x");
        const more = () => {
          while (left > 0) {
            const part = chunk.subarray(0, Math.min(left, chunk.length));
            left -= part.length;
            if (!response.write(part)) return response.once("drain", more);
          }
          response.end();
        };
        more();
      } else if (url.pathname.endsWith("/sized")) {
        response.writeHead(200, { "content-type": "text/plain", "content-length": "11" }).end("hello world");
      } else if (url.pathname.endsWith("/accessible-resources")) {
        if (!(request.headers.authorization ?? "").startsWith("Bearer ")) return response.writeHead(401).end();
        const sites = [{ id: "1324a887-45db-1bf4-1e99-ef0ff456d421", name: "acme", url: "https://acme.atlassian.net" }];
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(sites));
      } else if (url.pathname.endsWith("/flaky")) {
        const key = url.searchParams.get("key");
        const attempt = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, attempt);
        if (attempt <= Number(url.searchParams.get("times"))) {
          const after = url.searchParams.get("after");
          response.writeHead(Number(url.searchParams.get("status")), after === null ? {} : { "retry-after": after });
          response.end("slow down");
        } else {
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ attempt }));
        }
      } else if (url.pathname.endsWith("/unchanged")) {
        response.writeHead(304, { etag: '"v1"', "content-length": "11" }).end();
      } else if (url.pathname.endsWith("/truncated")) {
        response.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
        response.write("first ten.", () => setTimeout(() => request.socket.destroy(), 50));
      } else if (url.pathname.includes("/keyed/")) {
        response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      } else {
        response.writeHead(404).end();
      }
    });
  })
  .listen(Number(port), "127.0.0.1", () => console.log(JSON.stringify({ listening: Number(port) })));
