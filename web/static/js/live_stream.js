// The client side of WS /ws/live (docs/live-stream.md): connect with the token,
// hand each frame to the page, and reconnect by itself with backoff. Every new
// connection starts with a fresh `snapshot`, so resuming needs no bookkeeping here.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const PING_EVERY_MS = 10_000;
const SILENT_LIMIT_MS = 25_000; // no frame at all (not even a pong) for this long: reconnect

export const CLOSE_UNAUTHORISED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_TOO_SLOW = 4408;

/**
 * Every vehicle entry of a `vehicles` frame as an object, in the order to apply
 * them: full records first, then motion rows (values of `frame.motion_fields`, in
 * order) turned into objects. Merge each into what you hold for its `key`.
 */
export function vehicleEntries(frame) {
  const entries = [...(frame.vehicles || [])];
  const fields = frame.motion_fields || [];
  for (const row of frame.motion || []) {
    if (!Array.isArray(row) || row.length !== fields.length) continue;
    const entry = {};
    for (let i = 0; i < fields.length; i += 1) entry[fields[i]] = row[i];
    entries.push(entry);
  }
  return entries;
}

/**
 * handlers: onFrame(frame), onStatus({state, why, code, attempt, retryInMs}), where
 * state is "connecting" | "live" | "reconnecting" | "forbidden" | "signed-out" and
 * `why` says, as a code the page puts in words, what ended the last connection:
 * "too_slow", "no_answer" (1006), "closed" (any other `code`) or "failed" (the
 * browser refused to open it). The server's close reason is English, for its logs.
 * A frame is a parsed JSON object; a text that does not parse is counted, skipped.
 */
export class LiveStream {
  constructor({ path = "/ws/live", token, site, onFrame, onStatus }) {
    this.path = path;
    this.token = token;
    this.site = site;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.socket = null;
    this.attempt = 0;
    this.lastFrameMs = 0;
    this.lastSeq = null;
    this.gapFrames = 0;
    this.badFrames = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.watchdog = setInterval(() => this.#watch(), PING_EVERY_MS / 2);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams();
    if (this.site) params.set("site", this.site);
    const query = params.size ? `?${params}` : "";
    return `${scheme}://${location.host}${this.path}${query}`;
  }

  /** The token rides in Sec-WebSocket-Protocol, never in the URL (logs keep URLs). */
  protocols() {
    return ["skyberth.live", `skyberth.bearer.${this.token() || ""}`];
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.onStatus({ state: this.attempt ? "reconnecting" : "connecting", attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url(), this.protocols());
    } catch (err) {
      this.#retry("failed");
      return;
    }
    this.socket = socket;
    this.lastSeq = null;
    socket.addEventListener("open", () => {
      this.lastFrameMs = Date.now();
    });
    socket.addEventListener("message", (message) => this.#receive(message.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.#closed(event.code);
    });
    socket.addEventListener("error", () => {
      // A `close` event always follows; the reconnect is decided there.
    });
  }

  /** Ask the server for a fresh snapshot (e.g. after frames were dropped). */
  resync() {
    this.#send({ type: "resync" });
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, "page-closed");
  }

  #send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  #receive(data) {
    this.lastFrameMs = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      this.badFrames += 1;
      return;
    }
    if (!frame || typeof frame.type !== "string") {
      this.badFrames += 1;
      return;
    }
    if (frame.type === "snapshot") {
      this.attempt = 0;
      this.lastSeq = null;
      this.onStatus({ state: "live" });
    } else if (frame.type === "vehicles" && Number.isInteger(frame.seq)) {
      if (this.lastSeq !== null && frame.seq > this.lastSeq + 1) {
        this.gapFrames += frame.seq - this.lastSeq - 1;
      }
      this.lastSeq = frame.seq;
    }
    try {
      this.onFrame(frame);
    } catch (err) {
      console.warn("live_stream.onFrame", frame.type, err); // eslint-disable-line no-console
    }
  }

  #closed(code) {
    if (code === CLOSE_UNAUTHORISED) {
      this.stopped = true;
      this.onStatus({ state: "signed-out", code });
      return;
    }
    if (code === CLOSE_FORBIDDEN) {
      this.stopped = true;
      this.onStatus({ state: "forbidden", code });
      return;
    }
    // 4408 (too slow) and every network failure: come back and start from a snapshot.
    const why = code === CLOSE_TOO_SLOW ? "too_slow" : code === 1006 ? "no_answer" : "closed";
    this.#retry(why, code);
  }

  #retry(why, code = null) {
    if (this.stopped) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const retryInMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.onStatus({ state: "reconnecting", why, code, attempt: this.attempt, retryInMs });
    this.retryTimer = setTimeout(() => this.connect(), retryInMs);
  }

  #watch() {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    const silentMs = Date.now() - this.lastFrameMs;
    if (silentMs > SILENT_LIMIT_MS) {
      this.socket.close(4000, "silent");
      return;
    }
    if (silentMs > PING_EVERY_MS) this.#send({ type: "ping" });
  }
}
