export { KEYS, type KeySpec } from "./keys.js";
export {
  type Config,
  ConfigError,
  type LoadOptions,
  type LogLevel,
  loadConfig,
  redactConfig,
  redactUrl,
} from "./load.js";
