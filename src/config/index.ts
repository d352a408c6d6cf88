export { KEYS, type KeySpec } from "./keys.js";
export {
  type Config,
  ConfigError,
  type LoadOptions,
  type LogLevel,
  loadConfig,
  loadProducerConfig,
  type ProducerConfig,
  redactConfig,
  redactUrl,
} from "./load.js";
