/** What the host knows about one template on its disk. */
export interface TrackedTemplate {
  readonly uuid: string;
  name: string;
  tag: string | undefined;
  imageSizeBytes: number;
  lastAccessed: number;
  usageCount: number;
  /** VMs cloned from it that still exist. A template in use is never removed. */
  inUse: number;
  pulling: boolean;
}

/**
 * The templates of this host, shared by every handler of the process (in memory, like the Go
 * anklet's). Unlike Go, it counts VMs cloned from a template, so clean-up never removes a template
 * a running VM was cloned from.
 */
export class TemplateTracker {
  readonly #templates = new Map<string, TrackedTemplate>();

  get size(): number {
    return this.#templates.size;
  }

  get(uuid: string): TrackedTemplate | undefined {
    return this.#templates.get(uuid);
  }

  has(uuid: string): boolean {
    return this.#templates.has(uuid);
  }

  all(): TrackedTemplate[] {
    return [...this.#templates.values()];
  }

  /** Adds a template found at start (usage 0), keeping what we know already. */
  discover(uuid: string, name: string, tag: string | undefined, imageSizeBytes: number, lastAccessed: number): void {
    if (this.#templates.has(uuid)) return;
    this.#templates.set(uuid, { uuid, name, tag, imageSizeBytes, lastAccessed, usageCount: 0, inUse: 0, pulling: false });
  }

  /** Counts one use (an existing template taken, or a pull done). */
  recordUse(uuid: string, name: string, tag: string | undefined, imageSizeBytes: number, lastAccessed: number): void {
    const entry = this.#templates.get(uuid);
    if (!entry) {
      this.#templates.set(uuid, { uuid, name, tag, imageSizeBytes, lastAccessed, usageCount: 1, inUse: 0, pulling: false });
      return;
    }
    entry.usageCount += 1;
    entry.lastAccessed = lastAccessed;
    entry.name = name;
    entry.tag = tag;
    if (imageSizeBytes > 0) entry.imageSizeBytes = imageSizeBytes;
  }

  setPulling(uuid: string, name: string, tag: string | undefined, pulling: boolean): void {
    const entry = this.#templates.get(uuid);
    if (entry) entry.pulling = pulling;
    else if (pulling) this.#templates.set(uuid, { uuid, name, tag, imageSizeBytes: 0, lastAccessed: Date.now(), usageCount: 0, inUse: 0, pulling });
  }

  anyPulling(): boolean {
    return this.all().some((t) => t.pulling);
  }

  changeInUse(uuid: string, by: number): void {
    const entry = this.#templates.get(uuid);
    if (entry) entry.inUse = Math.max(0, entry.inUse + by);
  }

  remove(uuid: string): void {
    this.#templates.delete(uuid);
  }

  /** Candidates for clean-up: not in use and not pulling, least used first, then least recently used. */
  leastRecentlyUsed(): TrackedTemplate[] {
    return this.all()
      .filter((t) => t.inUse === 0 && !t.pulling)
      .sort((a, b) => a.usageCount - b.usageCount || a.lastAccessed - b.lastAccessed);
  }
}
