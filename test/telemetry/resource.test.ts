import { afterEach, describe, expect, it } from "vitest";
import { installMetrics } from "../../src/telemetry/http.js";

/** The resource attributes a freshly installed metrics SDK exports with every collection. */
async function resourceAttributes(): Promise<Record<string, unknown>> {
  const { exporter, shutdown } = installMetrics();
  try {
    const { resourceMetrics } = await exporter.collect();
    return { ...resourceMetrics.resource.attributes };
  } finally {
    await shutdown();
  }
}

describe("the metrics resource", () => {
  const saved = { name: process.env.OTEL_SERVICE_NAME, attrs: process.env.OTEL_RESOURCE_ATTRIBUTES };
  afterEach(() => {
    for (const [k, v] of [
      ["OTEL_SERVICE_NAME", saved.name],
      ["OTEL_RESOURCE_ATTRIBUTES", saved.attrs],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("names the service chainwatch by default", async () => {
    delete process.env.OTEL_SERVICE_NAME;
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    expect((await resourceAttributes())["service.name"]).toBe("chainwatch");
  });

  it("lets OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override and add", async () => {
    process.env.OTEL_SERVICE_NAME = "chainwatch-eu";
    process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment=prod";
    const attrs = await resourceAttributes();
    expect(attrs["service.name"]).toBe("chainwatch-eu");
    expect(attrs["deployment.environment"]).toBe("prod");
  });
});
