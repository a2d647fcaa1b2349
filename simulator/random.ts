/**
 * Deterministic randomness for the simulator: every duration, identifier and per-cluster
 * signal derives from the seed and a name, so one seed replays the same fleet and the same
 * update timings no matter how many other clusters exist or in which order they are touched.
 */

/** FNV-1a over the parts (separated so that ("ab","c") and ("a","bc") differ), as an unsigned 32-bit integer. */
export function hash32(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (let p = 0; p < parts.length; p++) {
    const s = String(parts[p]);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x1f;
    h = Math.imul(h, 0x01000193);
  }
  // One round of avalanche so that near-identical names give unrelated values.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) from a hash: for values that must not depend on call order. */
export function unit(...parts: (string | number)[]): number {
  return hash32(...parts) / 4294967296;
}

/** A seeded PRNG stream (mulberry32): small, fast and good enough for simulated durations. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform unsigned 32-bit integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((max - min + 1) * this.next());
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** Creates a PRNG stream from a 32-bit seed. */
export function createRng(seed: number): Rng {
  return new Rng(seed);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** A UUID (version-4 layout) drawn from the stream: update IDs are deterministic for a seed. */
export function uuidFrom(rng: Rng): string {
  const hex = hex8(rng.u32()) + hex8(rng.u32()) + hex8(rng.u32()) + hex8(rng.u32());
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A UUID that is a pure function of its parts (object UIDs, insight IDs). */
export function uuidOf(...parts: (string | number)[]): string {
  return uuidFrom(new Rng(hash32(...parts)));
}

/** Lower-case hex of the given length, a pure function of the parts (instance IDs, pod name suffixes). */
export function hexOf(length: number, ...parts: (string | number)[]): string {
  const rng = new Rng(hash32(...parts));
  let out = '';
  while (out.length < length) out += hex8(rng.u32());
  return out.slice(0, length);
}

const POD_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A Kubernetes-style random suffix (the alphabet ReplicaSets and DaemonSets use), from the parts. */
export function podSuffix(length: number, ...parts: (string | number)[]): string {
  const rng = createRng(hash32(...parts));
  let out = '';
  for (let i = 0; i < length; i++)
    out += POD_SUFFIX_ALPHABET.charAt(Math.floor(rng.next() * POD_SUFFIX_ALPHABET.length));
  return out;
}
