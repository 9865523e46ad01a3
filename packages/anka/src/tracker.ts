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
  /** CPU cores and RAM a VM cloned from it gets (from `anka -j show`), once known. */
  cpuCores?: number | undefined;
  ramBytes?: number | undefined;
  /**
   * True while we believe the template is on the host at `tag` with the sizes above: set from our
   * own `list`/`show`/pull, cleared when a clone from it fails with "not found". A verified entry
   * lets `ensureTemplate` and `requirementsOf` answer without calling `anka`.
   */
  verified?: boolean | undefined;
}

/** What `anka -j show` told us about a template. */
export interface TemplateFacts {
  readonly imageSizeBytes?: number | undefined;
  readonly cpuCores?: number | undefined;
  readonly ramBytes?: number | undefined;
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

  /** The entry for a template named by uuid or name. */
  find(uuidOrName: string): TrackedTemplate | undefined {
    return this.#templates.get(uuidOrName) ?? this.all().find((t) => t.name === uuidOrName);
  }

  /** A template known to be on the host with its sizes, so no `anka` call is needed to use it. */
  known(uuidOrName: string): TrackedTemplate | undefined {
    const entry = this.find(uuidOrName);
    return entry && entry.verified && !entry.pulling && entry.cpuCores !== undefined && entry.ramBytes !== undefined ? entry : undefined;
  }

  /** Records what `anka -j show` said about a template and marks it as on the host. */
  learn(uuid: string, facts: TemplateFacts): void {
    const entry = this.#templates.get(uuid);
    if (!entry) return;
    if (facts.imageSizeBytes !== undefined && facts.imageSizeBytes > 0) entry.imageSizeBytes = facts.imageSizeBytes;
    if (facts.cpuCores !== undefined) entry.cpuCores = facts.cpuCores;
    if (facts.ramBytes !== undefined) entry.ramBytes = facts.ramBytes;
    entry.verified = true;
  }

  /** Forgets that a template is known to be on the host (a clone from it said "not found"): the next use asks `anka`. */
  invalidate(uuidOrName: string): void {
    const entry = this.find(uuidOrName);
    if (entry) entry.verified = false;
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
