// libwebrtc as a WHIP client: publishes a two-colour VP8 stream to argv[2] (following
// a 307 if there is one), trickling candidates with PATCH. Runs until stdin closes,
// then DELETEs the session. Usage: node whip-client.mjs URL [TOKEN]
import { RTCPeerConnection, emit, trickleFrom, twoColourSource, untilStopped } from "./lib.mjs";

const [url, token] = process.argv.slice(2);
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
const source = twoColourSource();
pc.addTransceiver(source.track, { direction: "sendonly" });
const counts = { patches: [] };
const startTrickle = trickleFrom(pc, headers, counts);

// Offer before gathering: the candidates follow in PATCHes (trickle ICE).
await pc.setLocalDescription(await pc.createOffer());
const response = await fetch(url, {
  method: "POST",
  headers: { ...headers, "Content-Type": "application/sdp" },
  body: pc.localDescription.sdp,
});
if (response.status !== 201) {
  emit("error", { status: response.status, body: await response.text() });
  process.exit(1);
}
const session = new URL(response.headers.get("location"), response.url).href;
const etag = response.headers.get("etag");
emit("created", { session, etag, redirected: response.redirected });
await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
const flushed = startTrickle(session, etag);
const timer = setInterval(
  () => emit("stats", { state: pc.connectionState, patches: counts.patches }),
  250,
);

await untilStopped();
clearInterval(timer);
await flushed();
const deleted = await fetch(session, { method: "DELETE", headers });
emit("done", { deleted: deleted.status, patches: counts.patches });
source.stop();
pc.close();
process.exit(0);
