// libwebrtc as a WHEP player of argv[2]: POSTs a recvonly offer and trickles its
// candidates; a 406 counter offer is answered with an application/sdp PATCH. Reports
// decoded frames and sampled colours until stdin closes, then DELETEs the session.
// Usage: node whep-player.mjs URL [TOKEN]
import { RTCPeerConnection, emit, probe, trickleFrom, untilStopped } from "./lib.mjs";

const [url, token] = process.argv.slice(2);
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const counts = { patches: [] };
let frames = { stats: { frames: 0 }, stop() {} };

function player() {
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
  pc.ontrack = ({ track }) => {
    frames = probe(track);
  };
  return pc;
}

let pc = player();
pc.addTransceiver("video", { direction: "recvonly" });
let startTrickle = trickleFrom(pc, headers, counts);
await pc.setLocalDescription(await pc.createOffer());
const response = await fetch(url, {
  method: "POST",
  headers: { ...headers, "Content-Type": "application/sdp" },
  body: pc.localDescription.sdp,
});
if (response.status !== 201 && response.status !== 406) {
  emit("error", { status: response.status, body: await response.text() });
  process.exit(1);
}
const session = new URL(response.headers.get("location"), response.url).href;
const etag = response.headers.get("etag");
const mode = response.status === 201 ? "client-offer" : "counter-offer";
emit("created", { session, etag, mode, redirected: response.redirected });
if (mode === "client-offer") {
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
} else {
  pc.close();
  pc = player();
  startTrickle = trickleFrom(pc, headers, counts);
  await pc.setRemoteDescription({ type: "offer", sdp: await response.text() });
  await pc.setLocalDescription(await pc.createAnswer());
  const patched = await fetch(session, {
    method: "PATCH",
    headers: { ...headers, "Content-Type": "application/sdp", "If-Match": etag },
    body: pc.localDescription.sdp,
  });
  emit("answered", { status: patched.status });
}
const flushed = startTrickle(session, etag);
const timer = setInterval(
  () => emit("stats", { ...frames.stats, state: pc.connectionState, patches: counts.patches }),
  250,
);

await untilStopped();
clearInterval(timer);
await flushed();
const deleted = await fetch(session, { method: "DELETE", headers });
emit("done", { ...frames.stats, deleted: deleted.status, patches: counts.patches });
frames.stop();
pc.close();
process.exit(0);
