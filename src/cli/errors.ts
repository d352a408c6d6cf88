/** A usage, configuration or pattern error: the message is shown as is and the exit code is 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface CliContext {
  setExitCode(code: number): void;
}
