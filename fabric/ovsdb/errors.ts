/**
 * Errors of the OVSDB client: one base class, subclasses by kind. Callers (and tests) tell them apart
 * by `name` or `instanceof`, never by message text. Messages begin with the operation that failed.
 */

export class OvsdbError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The peer sent bytes that are not a stream of JSON texts, or JSON that is not JSON-RPC. */
export class OvsdbProtocolError extends OvsdbError {}

/** One JSON value grew past `maxMessageBytes`; the reader stopped buffering it and the connection closes. */
export class OvsdbMessageTooLargeError extends OvsdbProtocolError {
  constructor(readonly limitBytes: number) {
    super(`read: a JSON value exceeds the limit of ${limitBytes} bytes`);
  }
}

/** The connection closed (or was never open) while a request was waiting for its reply. */
export class OvsdbDisconnectedError extends OvsdbError {}

/** A request or our echo keepalive was not answered in time. */
export class OvsdbTimeoutError extends OvsdbError {}

/** The server answered a request with an error (e.g. "unknown method", "unknown database", "canceled"). */
export class OvsdbRpcError extends OvsdbError {
  constructor(
    readonly method: string,
    readonly error: unknown,
    readonly details?: unknown,
  ) {
    super(`${method}: server error ${describeJson(error)}${details !== undefined ? `: ${describeJson(details)}` : ''}`);
  }
}

/**
 * A JSON value from the peer as text for a message: at most `maxChars` characters, and never a throw
 * (a value too deep for JSON.stringify, a BigInt, a cycle: described, not serialised).
 */
function describeJson(value: unknown, maxChars = 500): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return `<unprintable ${Array.isArray(value) ? 'array' : typeof value}>`;
  }
  if (text === undefined) return String(typeof value);
  return text.length > maxChars ? `${text.slice(0, maxChars)}… (${text.length} chars)` : text;
}

/**
 * An operation was refused before it was sent because it does not fit the schema's type constraints.
 * `operationIndex` is the 0-based index among the operations passed to `transact`.
 */
export class OvsdbSchemaError extends OvsdbError {
  constructor(
    message: string,
    readonly operationIndex?: number,
    readonly table?: string,
    readonly column?: string,
  ) {
    super(message);
  }
}

/**
 * The server ran the transaction and one operation (or the commit) failed, e.g.
 * `constraint violation`, `referential integrity violation`, `timed out`.
 * `operationIndex` is the failing operation's index; it equals the number of operations when the
 * commit itself failed (RFC 7047 §4.1.3: one extra result element), and then `operation` is undefined.
 */
export class OvsdbTransactionError extends OvsdbError {
  constructor(
    readonly error: string,
    readonly details: string | undefined,
    readonly operationIndex: number,
    readonly operation: unknown,
    readonly results: unknown[],
  ) {
    const what = operation && typeof operation === 'object' ? `operation ${operationIndex} (${(operation as { op?: string }).op})` : 'commit';
    super(`transact: ${what} failed: ${error}${details ? `: ${details}` : ''}`);
  }
}

/**
 * The caller cancelled a request. RFC 7047 §4.1.4 lets the server still complete it (ovsdb-server 3.1
 * ignores `cancel` for a transaction waiting in `wait`), so its outcome is unknown.
 */
export class OvsdbCanceledError extends OvsdbError {}

/** A call that makes no sense here (bad URL, client closed, unknown monitor). */
export class OvsdbUsageError extends OvsdbError {}
