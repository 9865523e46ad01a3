import type Database from 'better-sqlite3';

interface Pending {
  readonly fn: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit for the embedded store's webhook writes (enqueue, record event). Calls made while
 * the event loop handles one round of I/O (say 50 webhooks that arrived together) run in one
 * SQLite transaction, so they share one fsync of the log (`synchronous=FULL`) instead of paying one
 * each: the fsync, not the SQL, is what a webhook costs. Each call runs in its own savepoint, so a
 * call that throws is rolled back alone; every promise settles only once the transaction has
 * committed, so a caller that answers 2xx after it answers after the data is durable.
 */
export class GroupCommit {
  #pending: Pending[] = [];
  #scheduled = false;
  /** Made once: better-sqlite3 builds a wrapper per `transaction()` call. */
  readonly #savepoint: (fn: () => unknown) => unknown;
  readonly #commit: Database.Transaction<(batch: Pending[], outcomes: Outcome[]) => void>;

  /** `prologue` runs once per group transaction, before the calls (housekeeping such as sweeping expired rows). */
  constructor(
    db: Database.Database,
    private readonly wrapError: (error: unknown) => Error,
    prologue: () => void = () => undefined,
  ) {
    // A transaction inside a transaction is a savepoint in better-sqlite3.
    this.#savepoint = db.transaction((fn: () => unknown) => fn());
    this.#commit = db.transaction((batch: Pending[], outcomes: Outcome[]) => {
      prologue();
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: this.#savepoint(item.fn) });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    });
  }

  /** Runs `fn` inside the next group transaction; resolves with its result after the commit. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // After the poll phase: every request whose body ended in this round is in the batch.
      setImmediate(() => this.flush());
    });
  }

  /** Commits what is pending now (also called by the store's close, before the database closes). */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const outcomes: Outcome[] = [];
    try {
      this.#commit.immediate(batch, outcomes);
    } catch (error) {
      for (const item of batch) item.reject(this.wrapError(error));
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(this.wrapError(outcome.error));
    });
  }
}
