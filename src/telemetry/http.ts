import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";

export interface Readiness {
  ready: boolean;
  /** What is not ready, e.g. `redis: connect ECONNREFUSED`. */
  reasons: string[];
}

/**
 * The app's metrics SDK: a MeterProvider whose only reader is the Prometheus exporter (pull). Its
 * resource names the service `chainwatch` (exported as `target_info`), unless the standard
 * `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` say otherwise.
 */
export function installMetrics(): { exporter: PrometheusExporter; shutdown: () => Promise<void> } {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "chainwatch" }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new MeterProvider({ resource, readers: [exporter] });
  metrics.setGlobalMeterProvider(provider);
  return { exporter, shutdown: () => provider.shutdown() };
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/** /healthz (alive), /readyz (200 or 503 with reasons), /metrics (Prometheus text). */
export async function startOpsServer(opts: {
  port: number;
  host?: string;
  exporter?: PrometheusExporter;
  readiness: () => Promise<Readiness>;
}): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      opts.readiness().then(
        (r) => {
          res
            .writeHead(r.ready ? 200 : 503, { "content-type": "application/json" })
            .end(`${JSON.stringify({ ready: r.ready, reasons: r.reasons })}\n`);
        },
        (err) => {
          res
            .writeHead(503, { "content-type": "application/json" })
            .end(`${JSON.stringify({ ready: false, reasons: [String(err)] })}\n`);
        },
      );
    } else if (path === "/metrics" && opts.exporter) {
      opts.exporter.getMetricsRequestHandler(req, res);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
