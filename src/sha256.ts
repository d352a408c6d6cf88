import * as crypto from "node:crypto";

// The one-shot crypto.hash (Node >= 20.12) is ~1 µs cheaper per call than a Hash object (2.5× here);
// earlier Node 20 releases fall back to one.
const oneShot = typeof crypto.hash === "function" ? crypto.hash : undefined;

/** SHA-256 of a string's UTF-8 bytes: event ids, group keys, alert ids and argument hashes. */
export function sha256(text: string, encoding: "hex" | "base64url"): string {
  return oneShot
    ? oneShot("sha256", text, encoding)
    : crypto.createHash("sha256").update(text).digest(encoding);
}
