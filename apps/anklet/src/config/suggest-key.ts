import { distance } from 'fastest-levenshtein';

/**
 * The known key closest to a misspelled one (`global_databse_url` → `global_database_url`), or
 * undefined when none is close enough to be a typo: at most a third of the key's letters differ.
 */
export function suggestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = key.toLowerCase();
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance > 0 && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}
