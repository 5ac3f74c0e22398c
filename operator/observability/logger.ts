import winston from 'winston';
import { REDACTED, redactPaths } from '../meta/redact.js';

/**
 * Structured JSON logs with levels (LOG_LEVEL: error, warn, info, debug). Callers pass facts as fields,
 * never a token, a webhook path or a signature: `redact` below is the net under that rule, not the rule.
 * It works by name (a field called token, secret, ...) and by value (a webhook path or a service-proxy path
 * in the message or in any string of any field, however deep: meta/redact.ts).
 */
export type Logger = winston.Logger;

const SECRET_FIELDS = /token|secret|signature|webhookpath|authorization|password/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) info[key] = SECRET_FIELDS.test(key) ? REDACTED : redactValue(info[key], 0);
  return info;
});

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactPaths(value);
  if (value instanceof Error) return redactPaths(value.message);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.test(k) ? REDACTED : redactValue(v, depth + 1)]));
}

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', stream?: NodeJS.WritableStream): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
    transports: [stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console({ stderrLevels: [] })],
  });
}
