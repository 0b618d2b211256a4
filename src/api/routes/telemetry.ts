import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number>>(t: T) =>
  Type.Union([t, Type.Null()]);

const TelemetryStatus = Type.Object({
  kpi_sinks: Type.Array(
    Type.Object({
      name: Type.String(),
      kind: Type.String({ description: 'prometheus or influxdb' }),
      watermark: Nullable(Type.String({ description: 'End of the last bucket the sink accepted.' })),
      points_sent: Type.Integer(),
      points_refused: Type.Integer(),
      errors: Type.Integer(),
      last_error: Nullable(Type.String()),
      last_success: Nullable(Type.String()),
    }),
  ),
  lake: Type.Union([
    Type.Object({
      partitions: Type.Integer(),
      rows: Type.Integer(),
      bytes: Type.Integer(),
      errors: Type.Integer(),
      last_error: Nullable(Type.String()),
      next_hour: Type.Record(Type.String(), Type.String(), {
        description: 'Next hour each record type exports.',
      }),
    }),
    Type.Null(),
  ]),
  snmp: Type.Array(
    Type.Object({
      device: Type.String(),
      interfaces: Type.Integer(),
      last_poll: Nullable(Type.String()),
      error: Nullable(Type.String()),
    }),
  ),
});

/**
 * Health of the exporters to other tools: KPI sinks (Prometheus, InfluxDB), the Parquet lake,
 * the SNMP-polled devices.
 *
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/v1/telemetry
 */
export function telemetryRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/api/v1/telemetry',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['system'],
        summary: 'Exporters to other tools: KPI sinks, the data lake, SNMP devices',
        response: { 200: TelemetryStatus },
      },
    },
    async () => {
      const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
      return {
        kpi_sinks: (ctx.telemetry?.status() ?? []).map((s) => ({
          name: s.name,
          kind: s.kind,
          watermark: iso(s.watermarkMs),
          points_sent: s.pointsSent,
          points_refused: s.pointsRefused,
          errors: s.errors,
          last_error: s.lastError,
          last_success: s.lastSuccess,
        })),
        lake: ctx.lake
          ? {
              partitions: ctx.lake.counters.partitions,
              rows: ctx.lake.counters.rows,
              bytes: ctx.lake.counters.bytes,
              errors: ctx.lake.counters.errors,
              last_error: ctx.lake.counters.lastError,
              next_hour: Object.fromEntries(
                Object.entries(ctx.lake.watermarks()).map(([t, ms]) => [t, new Date(ms).toISOString()]),
              ),
            }
          : null,
        snmp: (ctx.snmp?.status() ?? []).map((d) => ({
          device: d.device,
          interfaces: d.interfaces,
          last_poll: d.lastPoll,
          error: d.error,
        })),
      };
    },
  );
}
