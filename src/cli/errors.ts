/** A usage, configuration or pattern error: the message is shown as is and the exit code is 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface CliContext {
  setExitCode(code: number): void;
  /**
   * Hands over the stop signals bin/chainwatch.js held while the modules loaded and stops holding
   * them: `run` calls it once its own handlers are in place.
   */
  takeSignals?: () => NodeJS.Signals[];
}
