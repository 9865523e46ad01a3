import type { NextFunction, Request, Response } from 'express';
import { GitHubApiError } from './errors.js';

/**
 * A fault the control API injects into the REST API: the next `count` requests that match
 * `method` and `path` are answered with `status` instead of being served. What a test uses for
 * failures GitHub has and the simulator does not model otherwise: a cancel refused with 403 or
 * 500, a runner listing that fails.
 */
export interface RequestFault {
  /** HTTP method, e.g. `POST`; omitted: any. */
  method?: string;
  /** Regular expression matched against the request path, e.g. `/actions/runs/\\d+/cancel$`. */
  path: string;
  /** Answer status, e.g. 403, 500, 502. */
  status: number;
  /** How many matching requests to answer so; default 1. `-1`: until the faults are cleared. */
  count?: number;
  /** Message of the answer; default `Injected fault`. */
  message?: string;
}

/** The injected request faults, consulted before any REST route. */
export class RequestFaults {
  readonly faults: RequestFault[] = [];

  add(fault: RequestFault): void {
    new RegExp(fault.path); // a bad pattern is the caller's 400, not a later 500
    this.faults.push({ count: 1, ...fault });
  }

  clear(): void {
    this.faults.length = 0;
  }

  middleware() {
    return (req: Request, _res: Response, next: NextFunction): void => {
      const index = this.faults.findIndex((f) => (!f.method || f.method.toUpperCase() === req.method) && new RegExp(f.path).test(req.path));
      if (index < 0) return next();
      const fault = this.faults[index]!;
      if (fault.count !== -1) {
        fault.count = (fault.count ?? 1) - 1;
        if (fault.count <= 0) this.faults.splice(index, 1);
      }
      next(new GitHubApiError(fault.status, fault.message ?? 'Injected fault'));
    };
  }
}
