// Shared pieces of the libwebrtc interop peers: a two-colour video source, a frame
// probe, trickle ICE fragments (RFC 8840) and one-JSON-object-per-line reporting.
import wrtc from "@roamhq/wrtc";

export const { RTCPeerConnection } = wrtc;
const { RTCVideoSource, RTCVideoSink, rgbaToI420, i420ToRgba } = wrtc.nonstandard;

// The same colours as the Python tests: left half LEFT, right half RIGHT.
export const LEFT = [200, 40, 90];
export const RIGHT = [20, 180, 60];

export function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

export function twoColourSource(width = 128, height = 96, fps = 30) {
  const source = new RTCVideoSource();
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = x < width / 2 ? LEFT : RIGHT;
      rgba.set([...colour, 255], (y * width + x) * 4);
    }
  }
  const i420 = new Uint8ClampedArray((width * height * 3) / 2);
  rgbaToI420({ width, height, data: rgba }, { width, height, data: i420 });
  const track = source.createTrack();
  const timer = setInterval(() => source.onFrame({ width, height, data: i420 }), 1000 / fps);
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

// Counts decoded frames of `track` and samples the middle of each half.
export function probe(track) {
  const sink = new RTCVideoSink(track);
  const stats = { frames: 0, width: 0, height: 0, left: null, right: null };
  sink.onframe = ({ frame }) => {
    stats.frames += 1;
    if (stats.frames % 5 !== 1) return;
    const { width, height } = frame;
    const rgba = new Uint8ClampedArray(width * height * 4);
    i420ToRgba(frame, { width, height, data: rgba });
    const pixel = (x, y) => Array.from(rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 3));
    Object.assign(stats, {
      width,
      height,
      left: pixel(Math.floor(width / 4), Math.floor(height / 2)),
      right: pixel(Math.floor((3 * width) / 4), Math.floor(height / 2)),
    });
  };
  return { stats, stop: () => sink.stop() };
}

export async function gathered(pc) {
  while (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function iceCredentials(sdp) {
  const ufrag = sdp.match(/^a=ice-ufrag:(.*)$/m)[1].trim();
  const pwd = sdp.match(/^a=ice-pwd:(.*)$/m)[1].trim();
  return { ufrag, pwd };
}

// application/trickle-ice-sdpfrag body for `candidates` (null ends gathering).
export function sdpfrag(sdp, candidates) {
  const { ufrag, pwd } = iceCredentials(sdp);
  const lines = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`];
  const mid = candidates.find((c) => c)?.sdpMid ?? "0";
  lines.push("m=video 9 UDP/TLS/RTP/SAVPF 0", `a=mid:${mid}`);
  for (const candidate of candidates) {
    lines.push(candidate ? `a=${candidate.candidate}` : "a=end-of-candidates");
  }
  return lines.join("\r\n") + "\r\n";
}

// Applies a trickle fragment to `pc`; returns false if it is not a fragment.
export async function applySdpfrag(pc, body) {
  let mid = null;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith("a=mid:")) mid = line.slice(6);
    if (line.startsWith("a=candidate:")) {
      await pc.addIceCandidate({ candidate: line.slice(2), sdpMid: mid ?? "0" });
    }
  }
}

// Trickle ICE from a client: candidates gathered after the POST are PATCHed to the
// session with If-Match (RFC 9725 section 4.3.1); returns a function to call once
// the session URL and ETag are known.
export function trickleFrom(pc, headers, counts) {
  const queued = [];
  let session = null;
  let sending = Promise.resolve();
  const flush = () => {
    if (!session || queued.length === 0) return;
    const batch = queued.splice(0);
    sending = sending.then(async () => {
      const response = await fetch(session.url, {
        method: "PATCH",
        headers: { ...headers, "Content-Type": "application/trickle-ice-sdpfrag", "If-Match": session.etag },
        body: sdpfrag(pc.localDescription.sdp, batch),
      });
      counts.patches.push(response.status);
    });
  };
  pc.onicecandidate = ({ candidate }) => {
    queued.push(candidate ?? null);
    flush();
  };
  return (url, etag) => {
    session = { url, etag };
    flush();
    return () => sending;
  };
}

// Resolves on stdin's end (the test closing our pipe) or SIGTERM.
export function untilStopped() {
  return new Promise((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.on("SIGTERM", resolve);
    process.stdin.resume();
  });
}
