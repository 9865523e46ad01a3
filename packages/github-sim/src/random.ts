/**
 * A seeded pseudo-random source (mulberry32). Every random choice in the simulator (GUIDs,
 * request ids, the registration race) goes through one of these, so a run with a fixed seed is
 * reproducible.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** `length` lower-case hex digits. */
  hex(length: number): string;
  /** A version-4-shaped UUID, like GitHub's `X-GitHub-Delivery`. */
  uuid(): string;
  /** `length` characters from [A-Z0-9], like a registration token. */
  alnum(length: number): string;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (alphabet: string, length: number): string => {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
  return {
    next,
    hex: (length) => pick('0123456789abcdef', length),
    alnum: (length) => pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', length),
    uuid: () => {
      const h = pick('0123456789abcdef', 32);
      const variant = '89ab'[Math.floor(next() * 4)];
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
  };
}
