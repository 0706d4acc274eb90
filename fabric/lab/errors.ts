/**
 * The lab's error type: every failure of building, using or tearing down a real lab is a LabError
 * whose message begins with the operation (`Lab.up: ...`), so the CLI can print it as one line.
 */
export class LabError extends Error {
  override readonly name = 'LabError';
  /** exit code the CLI should use: 2 for bad input or an unsafe environment */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}
