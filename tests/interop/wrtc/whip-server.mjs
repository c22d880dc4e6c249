// libwebrtc behind a tiny WHIP server (node:http): POST /whip answers 201 with a full
// answer, Location and ETag; POST /redirect answers 307 to /whip; PATCH applies trickle
// fragments; DELETE ends the session. Reports the received video's decoded frames and
// sampled colours. Usage: node whip-server.mjs [TOKEN]
import http from "node:http";
import { randomUUID } from "node:crypto";
import { RTCPeerConnection, applySdpfrag, emit, gathered, probe, untilStopped } from "./lib.mjs";

const [token] = process.argv.slice(2);
const sessions = new Map();
let latest = { stats: { frames: 0 } };

async function handle(request, body) {
  if (token && request.headers.authorization !== `Bearer ${token}`) {
    return [401, { "WWW-Authenticate": "Bearer" }, "bad token"];
  }
  if (request.method === "POST" && request.url === "/redirect") {
    return [307, { Location: "/whip" }, ""];
  }
  if (request.method === "POST" && request.url === "/whip") {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    const session = { pc, probe: { stats: { frames: 0 }, stop() {} } };
    pc.ontrack = ({ track }) => {
      session.probe = probe(track);
      latest = session.probe;
    };
    await pc.setRemoteDescription({ type: "offer", sdp: body });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    const id = randomUUID();
    sessions.set(id, session);
    const headers = { "Content-Type": "application/sdp", Location: `/whip/${id}`, ETag: `"${id}"` };
    return [201, headers, pc.localDescription.sdp];
  }
  const id = request.url.match(/^\/whip\/([^/]+)$/)?.[1];
  const session = id && sessions.get(id);
  if (!session) return [404, {}, "no such session"];
  if (request.method === "PATCH") {
    if (request.headers["if-match"] !== `"${id}"`) return [412, {}, "stale ETag"];
    await applySdpfrag(session.pc, body);
    return [204, {}, ""];
  }
  if (request.method === "DELETE") {
    sessions.delete(id);
    emit("deleted", { id, ...session.probe.stats });
    session.probe.stop();
    session.pc.close();
    return [200, {}, ""];
  }
  return [405, {}, ""];
}

const server = http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", async () => {
    const [status, headers, text] = await handle(request, body);
    emit("request", { method: request.method, url: request.url, status });
    response.writeHead(status, headers).end(text);
  });
});
server.listen(0, "127.0.0.1", () => emit("listening", { port: server.address().port }));
const timer = setInterval(() => emit("stats", { ...latest.stats, sessions: sessions.size }), 250);

await untilStopped();
clearInterval(timer);
for (const session of sessions.values()) session.pc.close();
emit("done", {});
process.exit(0);
