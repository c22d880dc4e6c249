// libwebrtc behind a tiny WHEP server (node:http) serving a two-colour VP8 stream:
// POST /whep answers a player's offer with 201, or with --counter-offer sends its own
// offer in a 406 and takes the player's answer as an application/sdp PATCH; POST
// /redirect answers 307 to /whep; PATCH applies trickle fragments; DELETE ends it.
// Usage: node whep-server.mjs [--counter-offer] [TOKEN]
import http from "node:http";
import { randomUUID } from "node:crypto";
import { RTCPeerConnection, applySdpfrag, emit, gathered, twoColourSource, untilStopped } from "./lib.mjs";

const args = process.argv.slice(2);
const counterOffer = args.includes("--counter-offer");
const [token] = args.filter((a) => a !== "--counter-offer");
const source = twoColourSource();
const sessions = new Map();

async function handle(request, body) {
  if (token && request.headers.authorization !== `Bearer ${token}`) {
    return [401, { "WWW-Authenticate": "Bearer" }, "bad token"];
  }
  if (request.method === "POST" && request.url === "/redirect") {
    return [307, { Location: "/whep" }, ""];
  }
  if (request.method === "POST" && request.url === "/whep") {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    let status = 201;
    if (counterOffer) {
      pc.addTransceiver(source.track, { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      status = 406;
    } else {
      await pc.setRemoteDescription({ type: "offer", sdp: body });
      const video = pc.getTransceivers().find((t) => t.receiver.track.kind === "video");
      video.direction = "sendonly";
      await video.sender.replaceTrack(source.track);
      await pc.setLocalDescription(await pc.createAnswer());
    }
    await gathered(pc);
    const id = randomUUID();
    sessions.set(id, pc);
    const headers = { "Content-Type": "application/sdp", Location: `/whep/${id}`, ETag: `"${id}"` };
    return [status, headers, pc.localDescription.sdp];
  }
  const id = request.url.match(/^\/whep\/([^/]+)$/)?.[1];
  const pc = id && sessions.get(id);
  if (!pc) return [404, {}, "no such session"];
  if (request.method === "PATCH" && request.headers["content-type"] === "application/sdp") {
    await pc.setRemoteDescription({ type: "answer", sdp: body });
    return [204, {}, ""];
  }
  if (request.method === "PATCH") {
    if (request.headers["if-match"] !== `"${id}"`) return [412, {}, "stale ETag"];
    await applySdpfrag(pc, body);
    return [204, {}, ""];
  }
  if (request.method === "DELETE") {
    sessions.delete(id);
    pc.close();
    emit("deleted", { id });
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

await untilStopped();
for (const pc of sessions.values()) pc.close();
source.stop();
emit("done", {});
process.exit(0);
