//! The one error a call can fail with (no dependencies, so state logic and its tests can use it).

/** A refused or failed call: `status` 0 means the server was not reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** 400 answers: messages per field (SPEC §2). */
  readonly fields: Record<string, string[]>;
  /** 429 answers: seconds until the next try may pass. */
  readonly retryAfter: number | null;

  constructor(status: number, detail: string, fields: Record<string, string[]> = {}, retryAfter: number | null = null) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }

  /** The API's error body (SPEC §2 shapes) as one sentence a person can read. */
  static fromBody(status: number, body: unknown, retryAfter: number | null = null): ApiError {
    const b = (body ?? {}) as { detail?: unknown; error?: unknown; details?: unknown };
    if (b.details && typeof b.details === 'object') {
      const fields = b.details as Record<string, string[]>;
      const first = Object.values(fields).flat()[0];
      return new ApiError(status, typeof first === 'string' ? first : 'Invalid request', fields, retryAfter);
    }
    if (typeof b.detail === 'string') return new ApiError(status, b.detail, {}, retryAfter);
    if (typeof b.error === 'string') return new ApiError(status, b.error, {}, retryAfter);
    return new ApiError(status, `Request failed (${status})`, {}, retryAfter);
  }
}
